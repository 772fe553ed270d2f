//! Who may reach the API and who may change things through it.
//!
//! The API can enqueue, cancel, purge and pause, so two rules hold:
//!
//! * [`bind`] refuses a non-loopback address unless a token is configured:
//!   forgetting the token must not silently open the queue to the network.
//! * When a token is configured, [`require_token`] rejects every mutating
//!   request (anything but GET, HEAD and OPTIONS) that does not carry
//!   `Authorization: Bearer <token>`. Reads stay open so the dashboard and
//!   Prometheus can poll without a secret, unless the server protects reads
//!   too (`--http-protect-reads`): task payloads and results are data, and
//!   task ids are sequential, so anyone who can read can enumerate them.
//!   Then only what holds no queue data stays open ([`is_public`]): the
//!   dashboard's page and assets (it must load to ask for the token), the
//!   health probes, `/api/v1/info` and the OpenAPI document.
//!
//! Requests from other web pages are turned away before this, in `guard.rs`.
//!
//! The token is compared in constant time ([`tokens_match`]) so response
//! timing reveals nothing about how much of a guess was right.

use super::HttpState;
use super::error::{ApiError, HttpError};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Shortest accepted token: a guessable secret is no secret.
pub const MIN_TOKEN_LEN: usize = 16;

/// Checks that a configured token is usable.
pub fn validate_token(token: &str) -> Result<(), HttpError> {
    if token.len() < MIN_TOKEN_LEN {
        return Err(HttpError::BadToken {
            reason: "shorter than 16 characters",
        });
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::BadToken {
            reason: "not printable ASCII (it contains spaces, control or non-ASCII characters)",
        });
    }
    // The example files' placeholder is public, so it is no secret.
    if token.to_ascii_lowercase().contains("change-me") {
        return Err(HttpError::BadToken {
            reason: "the placeholder of an example file (generate one with `openssl rand -hex 32`)",
        });
    }
    Ok(())
}

/// Binds the API's listener, enforcing the loopback/token rule: a
/// non-loopback address (including `0.0.0.0`) needs a token.
///
/// Bind port 0 to let the OS pick a free port; read it back with
/// [`TcpListener::local_addr`].
pub async fn bind(addr: SocketAddr, token: Option<&str>) -> Result<TcpListener, HttpError> {
    check_bind(addr, token)?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })
}

/// The pure part of [`bind`]: may `addr` be served with `token`?
pub fn check_bind(addr: SocketAddr, token: Option<&str>) -> Result<(), HttpError> {
    match token {
        Some(token) => validate_token(token),
        None if addr.ip().is_loopback() => Ok(()),
        None => Err(HttpError::TokenRequired { addr }),
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub fn tokens_match(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let diff = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

/// Whether a request with this method changes anything.
pub fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `path` is readable without the token even when reads are
/// protected: it shows nothing of the queues.
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz" | "/readyz" | "/api/v1/info" | "/api/v1/openapi.json"
    ) || path.starts_with("/assets/")
}

/// Middleware: with a token configured, mutating requests (and, if reads
/// are protected, every request for queue data) must present it.
pub async fn require_token(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.token.as_deref() else {
        return next.run(request).await;
    };
    let mutating = is_mutating(request.method());
    let open_read = !state.protect_reads || is_public(request.uri().path());
    if !mutating && open_read {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(given) if tokens_match(given.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => unauthorized("the bearer token is wrong"),
        None if mutating => unauthorized("this request changes state and needs the API token"),
        None => unauthorized("this server protects reads too, so this request needs the API token"),
    }
}

fn unauthorized(why: &str) -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!(
            "{why}: send `Authorization: Bearer <token>` with the token the server was started \
             with (WASMQ_HTTP_TOKEN)"
        ),
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"wasmq\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOKEN: &str = "0123456789abcdef-secret";

    #[test]
    fn loopback_needs_no_token() {
        check_bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        check_bind("[::1]:8080".parse().unwrap(), None).unwrap();
    }

    #[test]
    fn other_addresses_need_a_token() {
        for addr in ["0.0.0.0:8080", "10.1.2.3:80", "[::]:8080"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let err = check_bind(addr, None).unwrap_err().to_string();
            assert!(err.contains("WASMQ_HTTP_TOKEN"), "{err}");
            assert!(err.contains(&addr.to_string()), "{err}");
            check_bind(addr, Some(TOKEN)).unwrap();
        }
    }

    #[test]
    fn weak_tokens_are_refused() {
        let addr: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert!(check_bind(addr, Some("short")).is_err());
        assert!(check_bind(addr, Some("has a space in the token")).is_err());
        assert!(check_bind("127.0.0.1:1".parse().unwrap(), Some("")).is_err());
        let placeholder = check_bind(addr, Some("change-me-to-a-long-random-token"))
            .unwrap_err()
            .to_string();
        assert!(placeholder.contains("openssl rand"), "{placeholder}");
    }

    #[test]
    fn only_pages_without_queue_data_are_public() {
        for path in ["/", "/assets/app.js", "/healthz", "/readyz", "/api/v1/info"] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/metrics",
            "/api/v1/tasks/email:1",
            "/api/v1/dead",
            "/api/v1/queues",
            "/x",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn methods() {
        assert!(!is_mutating(&Method::GET));
        assert!(!is_mutating(&Method::HEAD));
        assert!(is_mutating(&Method::POST));
        assert!(is_mutating(&Method::DELETE));
        assert!(is_mutating(&Method::PUT));
    }

    proptest! {
        #[test]
        fn tokens_match_is_equality(a in proptest::collection::vec(any::<u8>(), 0..40),
                                    b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(tokens_match(&a, &b), a == b);
            prop_assert!(tokens_match(&a, &a));
        }
    }
}
