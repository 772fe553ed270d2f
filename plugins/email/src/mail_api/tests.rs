//! Tests of [`super`]: the request's shape, the verdict on every class of
//! status, `Retry-After` parsing, and that the token never leaks.

use super::*;
use proptest::prelude::*;

const TOKEN: &str = "tok-s3cret";

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

fn message() -> Message {
    Message {
        to: "ada@example.com".into(),
        subject: "hi \"there\"".into(),
        body: "line 1\nline 2".into(),
        message_id: "<00000000000000ff@wasmq.invalid>".into(),
        retry_after: Duration::from_millis(1500),
    }
}

fn busy(status: u16, retry_after: Option<&str>) -> TaskError {
    let headers: Vec<(&str, &str)> = retry_after
        .map(|v| ("retry-after", v))
        .into_iter()
        .collect();
    verdict(
        &response(status, &headers, ""),
        Duration::from_millis(1500),
        TOKEN,
    )
    .unwrap_err()
}

#[test]
fn the_request_carries_the_message_the_token_and_the_idempotency_key() {
    let request = Request::new(&message(), TOKEN);
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "to": "ada@example.com",
            "subject": "hi \"there\"",
            "body": "line 1\nline 2",
            "message_id": "<00000000000000ff@wasmq.invalid>",
        })
    );
    assert_eq!(
        request.headers(),
        [
            ("content-type", "application/json"),
            ("authorization", "Bearer tok-s3cret"),
            ("idempotency-key", "<00000000000000ff@wasmq.invalid>"),
        ]
    );
}

#[test]
fn success_reads_the_provider_id_if_there_is_one() {
    let delay = Duration::from_secs(1);
    let with_id = verdict(&response(202, &[], r#"{"id":"msg-42"}"#), delay, TOKEN).unwrap();
    assert_eq!(
        with_id,
        Receipt {
            status: 202,
            provider_id: Some("msg-42".into())
        }
    );
    for body in ["", "not json", r#"{"id":7}"#, r#"["id"]"#] {
        let receipt = verdict(&response(200, &[], body), delay, TOKEN).unwrap();
        assert_eq!(receipt.provider_id, None, "{body}");
    }
}

#[test]
fn busy_answers_retry_after_the_server_s_delay_capped_or_the_payload_s() {
    for (status, header, wait) in [
        (429, Some("7"), Duration::from_secs(7)),
        (503, Some(" 0 "), Duration::ZERO),
        (429, Some("86400"), Duration::from_secs(3600)),
        (
            503,
            Some("99999999999999999999999"),
            Duration::from_millis(1500),
        ),
        (429, Some("-5"), Duration::from_millis(1500)),
        (429, Some("1.5"), Duration::from_millis(1500)),
        (
            429,
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            Duration::from_millis(1500),
        ),
        (503, None, Duration::from_millis(1500)),
    ] {
        let err = busy(status, header);
        assert_eq!(err.kind(), ErrorKind::Retryable, "{status} {header:?}");
        assert_eq!(err.retry_delay(), Some(wait), "{status} {header:?}");
        assert!(err.message().contains(&format!("busy ({status})")), "{err}");
    }
}

#[test]
fn other_statuses_map_to_their_kind_and_say_what_to_do() {
    let delay = Duration::from_secs(1);
    for (status, kind, needle) in [
        (500, ErrorKind::Retryable, "mail API answered 500: oops"),
        (502, ErrorKind::Retryable, "mail API answered 502: oops"),
        (
            401,
            ErrorKind::Permanent,
            "mail API refused the credentials (401): check [secrets] mail_token in email.toml",
        ),
        (403, ErrorKind::Permanent, "refused the credentials (403)"),
        (
            400,
            ErrorKind::Permanent,
            "mail API rejected the message (400): oops",
        ),
        (422, ErrorKind::Permanent, "rejected the message (422)"),
        (301, ErrorKind::Permanent, "(location: /elsewhere)"),
        (
            101,
            ErrorKind::Permanent,
            "set mail_api in [config] of email.toml",
        ),
    ] {
        let answer = response(status, &[("location", "/elsewhere")], "oops");
        let err = verdict(&answer, delay, TOKEN).unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
        assert!(err.message().contains(needle), "{status}: {err}");
        if kind == ErrorKind::Retryable {
            assert_eq!(err.retry_delay(), None, "{status}: the host's backoff");
        }
    }
}

#[test]
fn error_bodies_are_cut_to_200_characters_on_one_line() {
    let long = "é".repeat(300);
    let err = verdict(&response(400, &[], &long), Duration::ZERO, TOKEN).unwrap_err();
    let shown = err.message().split_once("(400): ").unwrap().1;
    assert_eq!(shown, format!("{}…", "é".repeat(200)));
    assert_eq!(excerpt(b"a\r\nb\x00", TOKEN), "a  b");
    assert_eq!(excerpt(b"  \n", TOKEN), "(empty body)");
    assert_eq!(excerpt(&[0x61, 0xff], TOKEN), "a\u{fffd}");
}

#[test]
fn transport_errors_denied_is_permanent_and_names_the_grant() {
    let api = "http://127.0.0.1:8025/v1/messages";
    let denied = transport_error(HttpError::Denied("not granted".into()), api);
    assert_eq!(denied.kind(), ErrorKind::Permanent);
    assert!(
        denied
            .message()
            .contains("[capabilities] http = [\"http://127.0.0.1:8025\"]"),
        "{denied}"
    );
    let failed = transport_error(HttpError::Failed("ConnectionRefused".into()), api);
    assert_eq!(failed.kind(), ErrorKind::Retryable);
    assert!(failed.message().contains("ConnectionRefused"), "{failed}");
    let bad = transport_error(HttpError::BadUrl("no scheme".into()), "mail.example");
    assert_eq!(bad.kind(), ErrorKind::Permanent);
    assert!(bad.message().contains("mail_api `mail.example`"), "{bad}");
    let header = transport_error(HttpError::BadUrl("a header is not allowed".into()), api);
    assert!(header.message().contains("mail_token"), "{header}");
}

#[test]
fn token_checks_never_show_the_token() {
    assert!(check_token(TOKEN).is_ok());
    for bad in ["", "  ", "tok-s3cret\n"] {
        let err = check_token(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(err.message().contains("[secrets] mail_token"), "{err}");
        assert!(bad.trim().is_empty() || !err.message().contains(bad.trim()));
    }
}

#[test]
fn an_echoed_token_is_blanked_before_the_body_is_cut() {
    let echoed = response(400, &[], &format!("bad token {TOKEN} for Bearer {TOKEN}"));
    let err = verdict(&echoed, Duration::ZERO, TOKEN).unwrap_err();
    assert!(err.message().contains("bad token <mail_token>"), "{err}");
    // The token straddles the 200-character cut: not even a prefix shows.
    let straddling = response(502, &[], &format!("{}{TOKEN}", "x".repeat(197)));
    let err = verdict(&straddling, Duration::ZERO, TOKEN).unwrap_err();
    assert!(!err.message().contains("tok"), "{err}");
    let id = response(200, &[], &format!(r#"{{"id":"{TOKEN}"}}"#));
    let receipt = verdict(&id, Duration::ZERO, TOKEN).unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("<mail_token>"));
}

#[test]
fn redact_keeps_kind_and_delay() {
    let err = redact(
        TaskError::permanent(format!("POST http://{TOKEN}@h")),
        TOKEN,
    );
    assert_eq!(err.message(), "POST http://<mail_token>@h");
    assert_eq!(err.kind(), ErrorKind::Permanent);

    let retry = TaskError::retryable(format!("x {TOKEN}")).retry_after(Duration::from_secs(3));
    let clean = redact(retry, TOKEN);
    assert_eq!(clean.message(), "x <mail_token>");
    assert_eq!(clean.retry_delay(), Some(Duration::from_secs(3)));
    assert!(clean.is_retryable());
}

proptest! {
    #[test]
    fn only_2xx_is_sent_and_nothing_shows_the_token(
        status in 100u16..1000,
        body in "\\PC{0,300}",
        retry in proptest::option::of("[0-9]{0,25}"),
    ) {
        let headers: Vec<(&str, &str)> =
            retry.as_deref().map(|v| ("retry-after", v)).into_iter().collect();
        let answer = response(status, &headers, &format!("{body}{TOKEN}"));
        match verdict(&answer, Duration::from_secs(1), TOKEN) {
            Ok(receipt) => prop_assert!((200..300).contains(&status) && receipt.status == status),
            Err(err) => {
                prop_assert!(!(200..300).contains(&status));
                prop_assert!(!err.message().contains("tok-"));
                if let Some(delay) = err.retry_delay() {
                    prop_assert!(delay <= MAX_RETRY_AFTER);
                }
            }
        }
    }
}
