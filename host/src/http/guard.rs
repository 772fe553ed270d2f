//! Defences against other web pages: DNS rebinding and cross-site requests.
//!
//! The API listens on loopback without a token by default, so the operator's
//! own browser is its biggest risk: any page it visits can send requests to
//! `127.0.0.1`. Three checks, in this order, close that door:
//!
//! * **Host.** A page can point a name it controls at 127.0.0.1 (DNS
//!   rebinding) and then read and write the API as if it were same-origin.
//!   The browser still sends the page's name in `Host`, so [`guard`] answers
//!   only to the address the connection came in on (and `localhost` on
//!   loopback) and to the names the operator allowed
//!   (`--http-allowed-host`). HTTP/1.1 without `Host` is refused outright.
//! * **Origin.** A browser says which page sent a request; a foreign origin,
//!   or `null` (a sandboxed frame or a `file://` page), is refused. Clients
//!   that are not browsers send no `Origin` and are not affected.
//! * **Content type.** A plain HTML form, which needs no permission to post
//!   anywhere, can only send form and text bodies. Every request that
//!   changes something must therefore carry `Content-Type: application/json`
//!   or the header [`REQUEST_HEADER`], neither of which another site's page
//!   can send without the server's (never given) CORS consent.
//!
//! The address of the connection comes from [`LocalAddr`], which
//! [`super::serve`] attaches to every connection.

use super::HttpState;
use super::error::ApiError;
use super::security::is_mutating;
use crate::config::{AllowedHost, ip_text, normalize_host, split_host_port};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpListener;

/// The header that marks a request without a JSON body as an API call
/// (the dashboard sends it on every request): `X-Wasmq-Request: 1`.
pub const REQUEST_HEADER: &str = "x-wasmq-request";

/// The local address of a connection (the address the client connected
/// to), and the client's (for the enqueue limit per IP).
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub Option<SocketAddr>, pub Option<SocketAddr>);

impl Connected<IncomingStream<'_, TcpListener>> for LocalAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        LocalAddr(stream.io().local_addr().ok(), Some(*stream.remote_addr()))
    }
}

/// Middleware: the Host, Origin and content-type checks (see the module docs).
pub async fn guard(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let local = request
        .extensions()
        .get::<ConnectInfo<LocalAddr>>()
        .and_then(|info| info.0.0);
    let allowed = &state.allowed_hosts;
    let headers = request.headers();
    let checked = check_host(request.version(), request.uri(), headers, local, allowed)
        .and_then(|()| check_origin(headers, local, allowed))
        .and_then(|()| check_api_call(request.method(), headers));
    match checked {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::debug!(method = %request.method(), uri = %request.uri(),
                status = %refused.status, reason = %refused.message, "request refused");
            refused.into_response()
        }
    }
}

/// Whether this server answers to `host` (normalised) on `port`.
fn answers_to(host: &str, port: u16, local: Option<SocketAddr>, allowed: &[AllowedHost]) -> bool {
    if allowed.iter().any(|a| a.matches(host, port)) {
        return true;
    }
    let Some(local) = local else { return false };
    if port != local.port() {
        return false;
    }
    let ip = local.ip().to_canonical();
    if ip.is_loopback() {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>();
        return host == "localhost" || literal.is_ok_and(|literal| literal.is_loopback());
    }
    host == ip_text(ip)
}

/// How to reach this server, for messages: its address as a `Host` value.
fn own_address(local: Option<SocketAddr>) -> String {
    match local {
        Some(addr) => format!("{}:{}", ip_text(addr.ip()), addr.port()),
        None => "its own address".to_owned(),
    }
}

fn check_host(
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
    local: Option<SocketAddr>,
    allowed: &[AllowedHost],
) -> Result<(), ApiError> {
    let mut values: Vec<String> = Vec::new();
    for value in headers.get_all(header::HOST) {
        let text = value.to_str().map_err(|_| {
            ApiError::bad_request("the Host header is not ASCII; send the server's address")
        })?;
        values.push(text.to_owned());
    }
    if values.len() > 1 {
        return Err(ApiError::bad_request(
            "the request has more than one Host header; send exactly one",
        ));
    }
    if let Some(authority) = uri.authority() {
        values.push(authority.as_str().to_owned());
    }
    if values.is_empty() {
        if version == Version::HTTP_10 || version == Version::HTTP_09 {
            return Ok(()); // No browser sends HTTP/1.0 without Host.
        }
        return Err(ApiError::bad_request(format!(
            "the request has no Host header, which HTTP/1.1 requires; send `Host: {}`",
            own_address(local)
        )));
    }
    for value in values {
        let known = split_host_port(&value).and_then(|(host, port)| {
            let host = normalize_host(host)?;
            answers_to(&host, port.unwrap_or(80), local, allowed).then_some(())
        });
        if known.is_none() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this server does not answer to the host `{value}` (a check against DNS \
                     rebinding): reach it at {}, or, if `{value}` is a name of yours (a \
                     reverse proxy, this machine), start wasmq with --http-allowed-host {} \
                     (WASMQ_HTTP_ALLOWED_HOST, or http_allowed_host in wasmq.toml)",
                    own_address(local),
                    suggested_name(&value),
                ),
            ));
        }
    }
    Ok(())
}

/// The host part of a `Host` value, to suggest for `--http-allowed-host`.
fn suggested_name(value: &str) -> String {
    split_host_port(value)
        .and_then(|(host, _)| normalize_host(host))
        .unwrap_or_else(|| "NAME".to_owned())
}

fn check_origin(
    headers: &HeaderMap,
    local: Option<SocketAddr>,
    allowed: &[AllowedHost],
) -> Result<(), ApiError> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return Ok(()); // Not a browser, or a same-origin read.
    };
    let refuse = |message: String| Err(ApiError::new(StatusCode::FORBIDDEN, message));
    if origins.next().is_some() {
        return refuse("the request has more than one Origin header; send at most one".into());
    }
    let text = origin.to_str().unwrap_or("(not ASCII)");
    if text == "null" {
        return refuse(
            "the request comes from a page with an opaque origin (`Origin: null`: a sandboxed \
             frame, a file:// page or a cross-site redirect), which cannot be told apart from \
             another site; use the dashboard this server serves, or a client that is not a \
             browser"
                .into(),
        );
    }
    let own = text.parse::<Uri>().ok().and_then(|uri| {
        let default_port = match uri.scheme_str()? {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return None;
        }
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = normalize_host(authority.host())?;
        let port = authority.port_u16().unwrap_or(default_port);
        answers_to(&host, port, local, allowed).then_some(())
    });
    match own {
        Some(()) => Ok(()),
        None => refuse(format!(
            "the request comes from the web page at `{text}`, which is not this server; wasmq \
             refuses requests from other sites' pages so that they cannot drive your queues. \
             If that page is yours (a reverse proxy's name, say), start wasmq with \
             --http-allowed-host NAME"
        )),
    }
}

/// A request that changes something must say it is an API call.
fn check_api_call(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if !is_mutating(method) {
        return Ok(());
    }
    if headers.contains_key(REQUEST_HEADER) || is_json(headers) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "this request changes state, so it must show it is an API call: send \
         `Content-Type: application/json` (with or without a body) or the header \
         `X-Wasmq-Request: 1`. A plain HTML form can send neither, which is what keeps other \
         web pages from using the API",
    ))
}

/// `Content-Type: application/json` or `application/<anything>+json`,
/// parameters allowed (what the JSON body extractor accepts too).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

#[cfg(test)]
mod tests;
