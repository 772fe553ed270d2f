//! `email`: validates a message the way a mail sender would, then "sends" it.
//!
//! Nothing leaves the sandbox; the plugin exists to show a realistic handler
//! and to drive the host's retry and dead-letter paths on demand:
//!
//! - a missing or malformed `to`, or an empty `subject`, is a permanent error
//!   naming the field (retrying cannot fix the input);
//! - `"simulate": "transient"` fails every attempt with a retryable error, and
//!   `"fail_attempts": N` fails attempts 1..=N and then succeeds; both ask for
//!   a retry after `retry_after_ms` (default 1000);
//! - success returns `{"sent": true, "to": ..., "message_id": ...}`, where the
//!   message id is a hash of the payload, so the same payload always gets the
//!   same id.

use std::time::Duration;

use serde::Deserialize;
use wasmq_plugin_sdk::{Output, Task, TaskError, info};

/// The payload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Email {
    to: Option<String>,
    subject: Option<String>,
    #[serde(default)]
    body: String,
    simulate: Option<String>,
    fail_attempts: Option<u32>,
    retry_after_ms: Option<u64>,
}

#[wasmq_plugin_sdk::handler]
fn send(task: Task) -> Result<Output, TaskError> {
    let email: Email = task.json()?;
    let to = email
        .to
        .as_deref()
        .ok_or_else(|| field_error("to", "is missing"))?;
    check_address(to).map_err(|why| field_error("to", &format!("`{to}` {why}")))?;
    let subject = email.subject.as_deref().unwrap_or("");
    if subject.trim().is_empty() {
        return Err(field_error(
            "subject",
            "is empty: every message needs a subject",
        ));
    }
    let retry_after = Duration::from_millis(email.retry_after_ms.unwrap_or(1000));
    match email.simulate.as_deref() {
        None => {}
        Some("transient") => {
            return Err(
                TaskError::retryable("simulated transient failure: mail server busy")
                    .retry_after(retry_after),
            );
        }
        Some(other) => {
            return Err(field_error(
                "simulate",
                &format!("`{other}` is unknown: use \"transient\""),
            ));
        }
    }
    if let Some(failures) = email.fail_attempts.filter(|&n| task.attempt <= n) {
        return Err(TaskError::retryable(format!(
            "simulated failure on attempt {} of the first {failures}",
            task.attempt
        ))
        .retry_after(retry_after));
    }
    let message_id = format!("<{:016x}@wasmq.invalid>", fnv1a64(&task.payload));
    info!(
        "sent {:?} to {to} ({} body bytes) as {message_id}",
        subject,
        email.body.len()
    );
    Output::json(&serde_json::json!({ "sent": true, "to": to, "message_id": message_id }))
}

fn field_error(field: &str, problem: &str) -> TaskError {
    TaskError::permanent(format!("email payload: field `{field}` {problem}"))
}

/// A deliberately simple address check: `local@domain.tld`, no spaces.
fn check_address(address: &str) -> Result<(), &'static str> {
    if address.len() > 254 {
        return Err("is longer than 254 characters");
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err("has no `@`: expected local@domain.tld");
    };
    if local.is_empty() || domain.contains('@') {
        return Err("is not of the form local@domain.tld");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|label| label.is_empty()) {
        return Err("has no valid domain: expected local@domain.tld");
    }
    Ok(())
}

/// 64-bit FNV-1a: small, dependency-free and stable across builds.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmq_plugin_sdk::ErrorKind;

    fn run(payload: &str, attempt: u32) -> Result<serde_json::Value, TaskError> {
        let mut task = Task::new("email", payload);
        task.attempt = attempt;
        let out = send(task)?;
        Ok(serde_json::from_slice(&out.data).unwrap())
    }

    #[test]
    fn sends_with_a_stable_message_id() {
        let payload = r#"{"to":"ada@example.com","subject":"hi","body":"x"}"#;
        let first = run(payload, 1).unwrap();
        assert_eq!(first["sent"], true);
        assert_eq!(first["to"], "ada@example.com");
        assert_eq!(first, run(payload, 2).unwrap());
    }

    #[test]
    fn bad_fields_are_permanent_and_named() {
        for (payload, field) in [
            (r#"{"subject":"hi"}"#, "field `to` is missing"),
            (
                r#"{"to":"nobody","subject":"hi"}"#,
                "field `to` `nobody` has no `@`",
            ),
            (r#"{"to":"a@b","subject":"hi"}"#, "field `to`"),
            (
                r#"{"to":"a@b.c","subject":"  "}"#,
                "field `subject` is empty",
            ),
            (
                r#"{"to":"a@b.c","subject":"s","simulate":"x"}"#,
                "field `simulate`",
            ),
            (
                r#"{"to":"a@b.c","subject":"s","cc":"x"}"#,
                "unknown field `cc`",
            ),
        ] {
            let err = run(payload, 1).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Permanent, "{payload}");
            assert!(
                err.message().contains(field),
                "{payload}: {}",
                err.message()
            );
        }
    }

    #[test]
    fn simulated_failures_are_retryable_with_a_delay() {
        let err = run(r#"{"to":"a@b.c","subject":"s","simulate":"transient"}"#, 5).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert_eq!(err.retry_delay(), Some(Duration::from_secs(1)));

        let payload = r#"{"to":"a@b.c","subject":"s","fail_attempts":2,"retry_after_ms":10}"#;
        for attempt in 1..=2 {
            let err = run(payload, attempt).unwrap_err();
            assert_eq!(err.retry_delay(), Some(Duration::from_millis(10)));
        }
        assert_eq!(run(payload, 3).unwrap()["sent"], true);
    }

    #[test]
    fn address_check() {
        for good in ["a@b.co", "first.last+tag@mail.example.org"] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in [
            "", "@b.co", "a@", "a@b", "a@@b.co", "a@b..co", "a b@c.de", "a@.b",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
