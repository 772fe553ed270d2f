//! Unit tests of the Host, Origin and content-type checks. The end-to-end
//! versions, through a real server, are in `tests/tests/http/guard.rs`.

use super::*;
use axum::http::HeaderValue;

const LOOPBACK: &str = "127.0.0.1:7070";
const PUBLIC: &str = "10.0.0.5:7070";

fn local(addr: &str) -> Option<SocketAddr> {
    Some(addr.parse().unwrap())
}

fn allowed(names: &[&str]) -> Vec<AllowedHost> {
    names.iter().map(|n| n.parse().unwrap()).collect()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn host(value: &str, on: &str, names: &[&str]) -> Result<(), ApiError> {
    let uri: Uri = "/api/v1/queues".parse().unwrap();
    check_host(
        Version::HTTP_11,
        &uri,
        &headers(&[("host", value)]),
        local(on),
        &allowed(names),
    )
}

fn origin(value: &str, on: &str, names: &[&str]) -> Result<(), ApiError> {
    check_origin(&headers(&[("origin", value)]), local(on), &allowed(names))
}

#[test]
fn loopback_names_with_the_bound_port_are_always_allowed_on_loopback() {
    for value in [
        "localhost:7070",
        "127.0.0.1:7070",
        "[::1]:7070",
        "LOCALHOST:7070",
    ] {
        host(value, LOOPBACK, &[]).unwrap();
    }
    host("[::1]:7070", "[::1]:7070", &[]).unwrap();
    for value in ["localhost:7071", "localhost", "127.0.0.1"] {
        let refused = host(value, LOOPBACK, &[]).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{value}");
    }
}

#[test]
fn a_rebinding_name_is_refused_with_what_to_do() {
    let refused = host("evil.example:7070", LOOPBACK, &[]).unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .message
            .contains("--http-allowed-host evil.example ")
            && refused.message.contains("127.0.0.1:7070")
            && refused.message.contains("DNS rebinding"),
        "{}",
        refused.message
    );
    host("evil.example:7070", LOOPBACK, &["evil.example"]).unwrap();
}

#[test]
fn off_loopback_the_connection_address_and_allowed_names_pass() {
    host("10.0.0.5:7070", PUBLIC, &[]).unwrap();
    host("10.0.0.5:7070", "[::ffff:10.0.0.5]:7070", &[]).unwrap();
    for value in ["localhost:7070", "10.0.0.6:7070", "queue.example.com"] {
        assert!(host(value, PUBLIC, &[]).is_err(), "{value}");
    }
    host("queue.example.com", PUBLIC, &["queue.example.com"]).unwrap();
    host(
        "queue.example.com:8443",
        PUBLIC,
        &["queue.example.com:8443"],
    )
    .unwrap();
    assert!(
        host(
            "queue.example.com:9000",
            PUBLIC,
            &["queue.example.com:8443"]
        )
        .is_err()
    );
}

#[test]
fn a_missing_or_doubled_host_is_a_bad_request() {
    let uri: Uri = "/".parse().unwrap();
    let none = HeaderMap::new();
    let refused = check_host(Version::HTTP_11, &uri, &none, local(LOOPBACK), &[]).unwrap_err();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.message.contains("Host: 127.0.0.1:7070"),
        "{}",
        refused.message
    );
    check_host(Version::HTTP_10, &uri, &none, local(LOOPBACK), &[]).unwrap();
    let two = headers(&[("host", "127.0.0.1:7070"), ("host", "evil.example")]);
    let refused = check_host(Version::HTTP_11, &uri, &two, local(LOOPBACK), &[]).unwrap_err();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[test]
fn an_absolute_uri_is_checked_as_well_as_the_host_header() {
    let uri: Uri = "http://evil.example:7070/api/v1/queues".parse().unwrap();
    let own = headers(&[("host", "127.0.0.1:7070")]);
    let refused = check_host(Version::HTTP_11, &uri, &own, local(LOOPBACK), &[]).unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[test]
fn origins() {
    check_origin(&HeaderMap::new(), local(LOOPBACK), &[]).unwrap();
    origin("http://127.0.0.1:7070", LOOPBACK, &[]).unwrap();
    origin("http://localhost:7070", LOOPBACK, &[]).unwrap();
    origin(
        "https://queue.example.com",
        LOOPBACK,
        &["queue.example.com"],
    )
    .unwrap();
    for (value, expected) in [
        ("null", "Origin: null"),
        ("http://evil.example", "`http://evil.example`"),
        ("http://evil.example:7070", "--http-allowed-host"),
        ("http://localhost:8080", "not this server"),
        ("ftp://127.0.0.1:7070", "not this server"),
        ("http://user@127.0.0.1:7070", "not this server"),
    ] {
        let refused = origin(value, LOOPBACK, &[]).unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{value}");
        assert!(
            refused.message.contains(expected),
            "{value}: {}",
            refused.message
        );
    }
}

#[test]
fn changes_must_be_json_or_carry_the_request_header() {
    let post = Method::POST;
    check_api_call(&Method::GET, &HeaderMap::new()).unwrap();
    for ok in [
        headers(&[("content-type", "application/json")]),
        headers(&[("content-type", "Application/JSON; charset=utf-8")]),
        headers(&[("content-type", "application/merge-patch+json")]),
        headers(&[("x-wasmq-request", "1")]),
    ] {
        check_api_call(&post, &ok).unwrap();
    }
    for refused in [
        HeaderMap::new(),
        headers(&[("content-type", "application/x-www-form-urlencoded")]),
        headers(&[("content-type", "multipart/form-data; boundary=x")]),
        headers(&[("content-type", "text/plain")]),
        headers(&[("content-type", "text/json")]),
    ] {
        let error = check_api_call(&Method::DELETE, &refused).unwrap_err();
        assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            error.message.contains("X-Wasmq-Request: 1"),
            "{}",
            error.message
        );
    }
}
