//! A small blocking HTTP client over `wasi:http`, for handlers whose
//! manifest grants outbound HTTP:
//!
//! ```toml
//! # <type>.toml
//! [capabilities]
//! http = ["https://api.example.com"]
//! ```
//!
//! ```no_run
//! use wasmq_plugin_sdk::{http, Output, Task, TaskError};
//!
//! #[wasmq_plugin_sdk::handler]
//! fn lookup(task: Task) -> Result<Output, TaskError> {
//!     let reply = http::get("https://api.example.com/v1/items/42")?;
//!     if reply.status != 200 {
//!         let wait = reply.header("retry-after").unwrap_or("no Retry-After");
//!         return Err(TaskError::retryable(format!("the API answered {} ({wait})", reply.status)));
//!     }
//!     Ok(Output::bytes(reply.body))
//! }
//! # fn main() {}
//! ```
//!
//! The host checks every request against the grant (a denied one is an
//! error here and a `denied` line in the task log), caps the response body
//! and the number of requests per run, and clamps every timeout to the
//! task's deadline. An error converts into a retryable [`TaskError`] with
//! `?`, except a denial, which is permanent (retrying cannot help).
//!
//! Natively (unit tests) every request fails: HTTP needs the host.

use std::borrow::Cow;

use crate::TaskError;

/// A response: its status, headers and whole body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The headers in the order received: names lower-cased, values as
    /// UTF-8 (invalid bytes replaced). A repeated header appears once per
    /// occurrence; [`Response::header`] finds the first.
    pub headers: Vec<(String, String)>,
    /// The body, as received (at most the manifest's `http_max_response`).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header called `name` (any case), e.g.
    /// `response.header("Retry-After")`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            TaskError::permanent(format!("the response is not the JSON expected: {e}"))
        })
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused it: the URL is not granted, or the run has sent
    /// its `http_max_requests` already.
    Denied(String),
    /// The URL could not be understood.
    BadUrl(String),
    /// The request failed on the way (DNS, connect, TLS, a timeout, a body
    /// over the cap, a private address...), with the host's reason.
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(why) => write!(f, "HTTP request denied by the host: {why}"),
            HttpError::BadUrl(why) => write!(f, "bad URL: {why}"),
            HttpError::Failed(why) => write!(f, "HTTP request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for TaskError {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Denied(_) | HttpError::BadUrl(_) => TaskError::permanent(error.to_string()),
            HttpError::Failed(_) => TaskError::retryable(error.to_string()),
        }
    }
}

/// The `scheme://host[:port]` part of `url` (everything before its path,
/// query or fragment): what a manifest's `[capabilities] http` entry must
/// name for the host to allow it. Handy in an error that says what to grant.
pub fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send("GET", url, &[], None)
}

/// `POST url` with `body` of type `content_type`.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, HttpError> {
    send("POST", url, &[("content-type", content_type)], Some(body))
}

/// Any method, with headers and an optional body.
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let parts = Url::parse(url)?;
    imp::send(method, &parts, headers, body)
}

/// The parts of an absolute `http` or `https` URL.
#[derive(Debug, PartialEq, Eq)]
struct Url<'a> {
    https: bool,
    authority: &'a str,
    path_and_query: Cow<'a, str>,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Url<'a>, HttpError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            HttpError::BadUrl(format!("`{url}` has no scheme (http:// or https://)"))
        })?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            other => {
                return Err(HttpError::BadUrl(format!(
                    "scheme `{other}`: only http and https"
                )));
            }
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(HttpError::BadUrl(format!("`{url}` has no host")));
        }
        // HTTP wants an origin-form target: `/` even before a bare query.
        let path_and_query = if path.starts_with('/') {
            Cow::Borrowed(path)
        } else {
            Cow::Owned(format!("/{path}"))
        };
        Ok(Url {
            https,
            authority,
            path_and_query,
        })
    }
}

#[cfg(target_family = "wasm")]
mod imp;

#[cfg(not(target_family = "wasm"))]
mod imp {
    use super::{HttpError, Response, Url};

    pub fn send(
        _method: &str,
        url: &Url<'_>,
        _headers: &[(&str, &str)],
        _body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        Err(HttpError::Failed(format!(
            "no host to send to {}: outbound HTTP works only when the plugin runs in wasmq",
            url.authority
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_checked() {
        let url = Url::parse("https://api.example.com:8443/v1/x?y=1").unwrap();
        assert_eq!(
            url,
            Url {
                https: true,
                authority: "api.example.com:8443",
                path_and_query: "/v1/x?y=1".into()
            }
        );
        assert_eq!(Url::parse("http://h").unwrap().path_and_query, "/");
        assert_eq!(Url::parse("http://h?q").unwrap().path_and_query, "/?q");
        assert_eq!(Url::parse("http://h/?q").unwrap().path_and_query, "/?q");
        assert!(matches!(Url::parse("ftp://h"), Err(HttpError::BadUrl(_))));
        assert!(matches!(Url::parse("h/x"), Err(HttpError::BadUrl(_))));
        assert!(matches!(Url::parse("http:///x"), Err(HttpError::BadUrl(_))));
    }

    #[test]
    fn headers_are_found_in_any_case_first_match() {
        let response = Response {
            status: 429,
            headers: vec![
                ("retry-after".into(), "7".into()),
                ("retry-after".into(), "9".into()),
            ],
            body: Vec::new(),
        };
        assert_eq!(response.header("Retry-After"), Some("7"));
        assert_eq!(response.header("RETRY-AFTER"), Some("7"));
        assert_eq!(response.header("etag"), None);
    }

    #[test]
    fn origins_stop_at_the_path_query_or_fragment() {
        assert_eq!(
            origin("http://127.0.0.1:8025/v1/messages"),
            "http://127.0.0.1:8025"
        );
        assert_eq!(origin("https://a.example?x=1"), "https://a.example");
        assert_eq!(origin("https://a.example#top"), "https://a.example");
        assert_eq!(origin("https://a.example"), "https://a.example");
    }

    #[test]
    fn a_denial_is_permanent_and_a_failure_retryable() {
        assert!(!TaskError::from(HttpError::Denied("x".into())).is_retryable());
        assert!(TaskError::from(HttpError::Failed("x".into())).is_retryable());
    }
}
