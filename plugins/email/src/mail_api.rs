//! The mail API's side of `email`: the request it sends and what each
//! answer means. Kept apart from the handler, and free of I/O, so that every
//! branch is unit-tested natively (where there is no host to send through).
//!
//! The request is `POST <mail_api>` with
//!
//! - `content-type: application/json`,
//! - `authorization: Bearer <mail_token>`,
//! - `idempotency-key: <message_id>`,
//! - body `{"to", "subject", "body", "message_id"}`.
//!
//! The answer decides the attempt:
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx | sent; `provider_id` is the response JSON's `"id"` string, if any |
//! | 429, 503 | retryable, after `Retry-After` seconds (capped at an hour) or else `retry_after_ms` |
//! | other 5xx | retryable: the API's own trouble may pass |
//! | 401, 403 | permanent: the token is wrong, and retrying will not change it |
//! | other 4xx | permanent: the API refuses this message |
//! | anything else | permanent: redirects are not followed, so `mail_api` must be the endpoint itself |
//!
//! A transport failure (connect, DNS, timeout) is retryable; a request the
//! host denies is permanent, and says which grant to add. No message or
//! output ever carries the token: [`verdict`] blanks it out of anything the
//! API echoes, and [`redact`] out of the host's reasons.

use std::time::Duration;

use wasmq_plugin_sdk::http::{self, HttpError, Response};
use wasmq_plugin_sdk::{ErrorKind, TaskError};

use crate::Message;

/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How much of an error body goes into a message.
const EXCERPT_CHARS: usize = 200;

/// The request for one message, minus the URL.
pub struct Request {
    authorization: String,
    idempotency_key: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(message: &Message, token: &str) -> Request {
        let body = serde_json::json!({
            "to": message.to,
            "subject": message.subject,
            "body": message.body,
            "message_id": message.message_id,
        });
        Request {
            authorization: format!("Bearer {token}"),
            idempotency_key: message.message_id.clone(),
            body: body.to_string().into_bytes(),
        }
    }

    pub fn headers(&self) -> [(&str, &str); 3] {
        [
            ("content-type", "application/json"),
            ("authorization", &self.authorization),
            ("idempotency-key", &self.idempotency_key),
        ]
    }
}

/// A message the API accepted.
#[derive(Debug, PartialEq, Eq)]
pub struct Receipt {
    pub status: u16,
    pub provider_id: Option<String>,
}

/// What the API's answer means for this attempt. `busy_delay` is the wait
/// to ask for when the API is busy and gives no usable `Retry-After`;
/// `token` is blanked out of whatever the answer echoes, before any of it
/// is cut short (so not even a prefix of it shows).
pub fn verdict(
    response: &Response,
    busy_delay: Duration,
    token: &str,
) -> Result<Receipt, TaskError> {
    let status = response.status;
    let excerpt = || excerpt(&response.body, token);
    match status {
        200..=299 => Ok(Receipt {
            status,
            provider_id: serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|json| Some(blank(json.get("id")?.as_str()?, token))),
        }),
        429 | 503 => {
            let (delay, why) = match retry_after(response.header("retry-after")) {
                Some(delay) => (delay, "as its Retry-After asked"),
                None => (busy_delay, "(the payload's retry_after_ms)"),
            };
            Err(TaskError::retryable(format!(
                "email: mail API is busy ({status}): retrying in {} ms {why}",
                delay.as_millis()
            ))
            .retry_after(delay))
        }
        500..=599 => Err(TaskError::retryable(format!(
            "email: mail API answered {status}: {}",
            excerpt()
        ))),
        401 | 403 => Err(TaskError::permanent(format!(
            "email: mail API refused the credentials ({status}): check [secrets] mail_token in email.toml"
        ))),
        400..=499 => Err(TaskError::permanent(format!(
            "email: mail API rejected the message ({status}): {}",
            excerpt()
        ))),
        _ => Err(TaskError::permanent(format!(
            "email: mail API answered {status}{}, not a verdict on the message: set mail_api in \
             [config] of email.toml to the endpoint itself (redirects are not followed)",
            match response.header("location") {
                Some(location) => format!(" (location: {})", blank(location, token)),
                None => String::new(),
            }
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

/// The first [`EXCERPT_CHARS`] characters of a body, on one line, with
/// `token` blanked out first.
fn excerpt(body: &[u8], token: &str) -> String {
    let text = blank(&String::from_utf8_lossy(body), token);
    let mut chars = text.chars();
    let mut line: String = chars
        .by_ref()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if chars.next().is_some() {
        line.push('…');
    }
    match line.trim() {
        "" => "(empty body)".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// What a failed request means: the host's denial is permanent and names
/// the grant, a transport failure is retryable.
pub fn transport_error(error: HttpError, api: &str) -> TaskError {
    match error {
        HttpError::Denied(why) => TaskError::permanent(format!(
            "email: the host denied POST {api} ({why}): grant it in email.toml with \
                 [capabilities] http = [\"{}\"]",
            http::origin(api)
        )),
        HttpError::BadUrl(why) if why.starts_with("a header") => TaskError::permanent(format!(
            "email: the request to {api} has a header the host refuses ({why}): check [secrets] \
             mail_token in email.toml for stray characters"
        )),
        HttpError::BadUrl(why) => TaskError::permanent(format!(
            "email: mail_api `{api}` in [config] of email.toml is not a usable URL ({why}): set \
             it to an http:// or https:// URL"
        )),
        HttpError::Failed(why) => TaskError::retryable(format!(
            "email: POST {api} failed ({why}): will retry; check that the mail API is up"
        )),
    }
}

/// Refuses a token that cannot be sent in a header, without showing it.
pub fn check_token(token: &str) -> Result<(), TaskError> {
    let problem = if token.trim().is_empty() {
        "is empty: set the variable or file it names to the API token"
    } else if token.chars().any(char::is_control) {
        "contains a control character (a trailing newline in its file?): remove it"
    } else {
        return Ok(());
    };
    Err(TaskError::permanent(format!(
        "email: [secrets] mail_token in email.toml {problem}"
    )))
}

/// `text` with every occurrence of `token` replaced by `<mail_token>`.
pub fn blank(text: &str, token: &str) -> String {
    if token.is_empty() {
        return text.to_owned();
    }
    text.replace(token, "<mail_token>")
}

/// `error` with every occurrence of `token` replaced by `<mail_token>`.
pub fn redact(error: TaskError, token: &str) -> TaskError {
    if token.is_empty() || !error.message().contains(token) {
        return error;
    }
    let message = blank(error.message(), token);
    let clean = match error.kind() {
        ErrorKind::Retryable => TaskError::retryable(message),
        ErrorKind::Permanent => TaskError::permanent(message),
    };
    match error.retry_delay() {
        Some(delay) => clean.retry_after(delay),
        None => clean,
    }
}

#[cfg(test)]
mod tests;
