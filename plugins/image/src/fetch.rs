//! Fetching the source PNG: one GET through the SDK's HTTP client, and
//! what each answer means for the attempt.
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx | the body is the source (checked to be a PNG by the caller) |
//! | 429, 5xx | retryable; after `Retry-After` seconds (capped at an hour) if given |
//! | other 4xx (404, 410...) | permanent: the URL is wrong, and stays wrong |
//! | anything else | permanent: redirects are not followed |
//!
//! A transport failure is retryable; a request the host denies (the URL is
//! outside `[capabilities] http`) is permanent and names the grant to add.
//! The status mapping is a pure function so that it is tested natively,
//! where no request can be sent.

use std::time::Duration;

use wasmq_plugin_sdk::TaskError;
use wasmq_plugin_sdk::http::{self, HttpError, Response};

/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// GETs `url` and returns the body of a 2xx answer.
pub fn get(url: &str) -> Result<Vec<u8>, TaskError> {
    let response = http::get(url).map_err(|e| transport_error(e, url))?;
    check_status(url, &response)?;
    Ok(response.body)
}

/// Whether the answer carries the image, and if not, whether to retry.
fn check_status(url: &str, response: &Response) -> Result<(), TaskError> {
    let status = response.status;
    match status {
        200..=299 => Ok(()),
        429 | 500..=599 => {
            let err = TaskError::retryable(format!(
                "image: {url} answered {status}: the server is busy or failing; will retry"
            ));
            Err(match retry_after(response.header("retry-after")) {
                Some(delay) => err.retry_after(delay),
                None => err,
            })
        }
        400..=499 => Err(TaskError::permanent(format!(
            "image: {url} answered {status}: check `url` in the payload{}",
            match status {
                404 | 410 => " (the server has no such image)",
                401 | 403 => " (the server refuses to serve it)",
                _ => "",
            }
        ))),
        _ => Err(TaskError::permanent(format!(
            "image: {url} answered {status}, not an image: give the image's own URL \
             (redirects are not followed)"
        ))),
    }
}

/// A `Retry-After` in whole seconds, capped at [`MAX_RETRY_AFTER`]; `None`
/// for an absent, negative, HTTP-date or absurdly long value.
fn retry_after(value: Option<&str>) -> Option<Duration> {
    let value = value?.trim();
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = value.parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// What a failed request means: denial and a bad URL are permanent, a
/// transport failure is retryable.
fn transport_error(error: HttpError, url: &str) -> TaskError {
    match error {
        HttpError::Denied(why) => TaskError::permanent(format!(
            "image: the host denied GET {url} ({why}): grant it in image.toml with \
                 [capabilities] http = [\"{}\"]",
            http::origin(url)
        )),
        HttpError::BadUrl(why) => TaskError::permanent(format!(
            "image payload: field `url` `{url}` is not a usable URL ({why}): give an http:// or \
             https:// URL of a PNG"
        )),
        HttpError::Failed(why) => TaskError::retryable(format!(
            "image: GET {url} failed ({why}): will retry; check that the server is up"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmq_plugin_sdk::ErrorKind;

    const URL: &str = "http://127.0.0.1:8026/photos/a.png";

    fn answer(status: u16, retry: Option<&str>) -> Result<(), TaskError> {
        let headers = retry
            .map(|v| ("retry-after".to_owned(), v.to_owned()))
            .into_iter()
            .collect();
        let response = Response {
            status,
            headers,
            body: b"whatever".to_vec(),
        };
        check_status(URL, &response)
    }

    #[test]
    fn statuses_map_to_their_kind() {
        for ok in [200, 204, 299] {
            assert_eq!(answer(ok, None), Ok(()));
        }
        for (status, kind, needle) in [
            (
                404,
                ErrorKind::Permanent,
                "answered 404: check `url` in the payload (the server has no such image)",
            ),
            (410, ErrorKind::Permanent, "answered 410"),
            (400, ErrorKind::Permanent, "answered 400: check `url`"),
            (403, ErrorKind::Permanent, "refuses to serve it"),
            (302, ErrorKind::Permanent, "redirects are not followed"),
            (429, ErrorKind::Retryable, "answered 429"),
            (500, ErrorKind::Retryable, "answered 500"),
            (503, ErrorKind::Retryable, "will retry"),
        ] {
            let err = answer(status, None).unwrap_err();
            assert_eq!(err.kind(), kind, "{status}");
            assert!(
                err.message()
                    .starts_with(&format!("image: {URL} answered {status}")),
                "{err}"
            );
            assert!(err.message().contains(needle), "{err}");
        }
    }

    #[test]
    fn retry_after_is_honoured_in_whole_seconds_up_to_an_hour() {
        let delay = |v| answer(503, Some(v)).unwrap_err().retry_delay();
        assert_eq!(delay("30"), Some(Duration::from_secs(30)));
        assert_eq!(delay("100000"), Some(Duration::from_secs(3600)));
        assert_eq!(delay("Fri, 31 Dec 1999 23:59:59 GMT"), None);
        assert_eq!(delay("-1"), None);
        assert_eq!(delay("123456789012345678901234"), None);
        assert_eq!(answer(429, None).unwrap_err().retry_delay(), None);
    }

    #[test]
    fn transport_errors_say_what_to_do() {
        let denied = transport_error(HttpError::Denied("not granted".into()), URL);
        assert_eq!(denied.kind(), ErrorKind::Permanent);
        assert!(denied.message().contains("denied GET"), "{denied}");
        assert!(
            denied
                .message()
                .contains("http = [\"http://127.0.0.1:8026\"]"),
            "{denied}"
        );
        let bad = transport_error(HttpError::BadUrl("no scheme".into()), "a.png");
        assert!(
            bad.message()
                .starts_with("image payload: field `url` `a.png`"),
            "{bad}"
        );
        assert_eq!(bad.kind(), ErrorKind::Permanent);
        let failed = transport_error(HttpError::Failed("timeout".into()), URL);
        assert_eq!(failed.kind(), ErrorKind::Retryable);
        // Natively there is no host, so a real GET fails that way too.
        assert!(get(URL).unwrap_err().is_retryable());
    }
}
