//! `email`: validates a message the way a mail sender would, then sends it
//! by POSTing it to a mail API (one HTTP request per attempt).
//!
//! - a missing or malformed `to`, or an empty `subject`, is a permanent error
//!   naming the field (retrying cannot fix the input);
//! - `"simulate": "transient"` fails every attempt with a retryable error, and
//!   `"fail_attempts": N` fails attempts 1..=N; both ask for a retry after
//!   `retry_after_ms` (default 1000). They are checked before anything else
//!   happens, so the host's retry and dead-letter paths can be driven without
//!   a mail API or any configuration;
//! - then the message goes to the API at `mail_api` (see [`mail_api`] for
//!   the request and how each answer maps to success, a retry or a dead
//!   letter); success returns `{"sent": true, "to", "message_id",
//!   "provider_id"}`.
//!
//! The message id is a hash of the payload, so the same payload always gets
//! the same id; it doubles as the request's `idempotency-key`, so a retry
//! after a lost answer does not send the message twice (if the API honours
//! the key).
//!
//! The plugin needs a manifest next to it that grants the API, names it,
//! and hands over the token (resolved by the host at load, never logged):
//!
//! ```toml
//! # email.toml
//! [capabilities]
//! http = ["http://127.0.0.1:8025"]
//! [config]
//! mail_api = "http://127.0.0.1:8025/v1/messages"
//! [secrets]
//! mail_token = "env:MAIL_TOKEN"
//! ```

mod mail_api;

use std::time::Duration;

use serde::Deserialize;
use wasmq_plugin_sdk::{Output, Task, TaskError, config, http, info};

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

/// A validated message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    to: String,
    subject: String,
    body: String,
    message_id: String,
    /// The delay to ask for when the API is busy and does not say.
    retry_after: Duration,
}

#[wasmq_plugin_sdk::handler]
fn send(task: Task) -> Result<Output, TaskError> {
    let message = prepare(&task)?;
    let (api, token) = settings(config::get("mail_api"), config::secret("mail_token"))?;
    let request = mail_api::Request::new(&message, &token);
    let sent = http::send("POST", &api, &request.headers(), Some(&request.body))
        .map_err(|e| mail_api::transport_error(e, &api))
        .and_then(|response| mail_api::verdict(&response, message.retry_after, &token));
    // Whatever the host or the API said, the token goes no further than here.
    let receipt = sent.map_err(|e| mail_api::redact(e, &token))?;
    info!(
        "sent {:?} to {} ({} body bytes) as {} (mail API answered {}{})",
        message.subject,
        message.to,
        message.body.len(),
        message.message_id,
        receipt.status,
        match &receipt.provider_id {
            Some(id) => format!(", id {id:?}"),
            None => String::new(),
        }
    );
    Output::json(&serde_json::json!({
        "sent": true,
        "to": message.to,
        "message_id": message.message_id,
        "provider_id": receipt.provider_id,
    }))
}

/// Validates the payload and plays its simulated failures: everything that
/// happens before (and without) the mail API.
fn prepare(task: &Task) -> Result<Message, TaskError> {
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
    Ok(Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        body: email.body,
        message_id: format!("<{:016x}@wasmq.invalid>", fnv1a64(&task.payload)),
        retry_after,
    })
}

/// The API's URL and token from the manifest, or a permanent error that
/// says which table and key to fill in.
fn settings(
    api: Option<String>,
    token: Result<String, TaskError>,
) -> Result<(String, String), TaskError> {
    let api = api.ok_or_else(|| {
        TaskError::permanent(
            "email: no `mail_api` in [config] of email.toml: set it to the mail API's URL, \
             e.g. mail_api = \"https://mail.example.com/v1/messages\"",
        )
    })?;
    let token = token.map_err(|_| {
        TaskError::permanent(
            "email: no `mail_token` in [secrets] of email.toml: add [secrets] mail_token = \
             \"env:MAIL_TOKEN\" (or \"file:/path\") so the host can hand over the API token",
        )
    })?;
    mail_api::check_token(&token)?;
    Ok((api, token))
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

    fn prepared(payload: &str, attempt: u32) -> Result<Message, TaskError> {
        let mut task = Task::new("email", payload);
        task.attempt = attempt;
        prepare(&task)
    }

    #[test]
    fn a_valid_message_gets_a_stable_message_id() {
        let payload = r#"{"to":"ada@example.com","subject":"hi","body":"x"}"#;
        let first = prepared(payload, 1).unwrap();
        assert_eq!(first.to, "ada@example.com");
        assert_eq!(first.body, "x");
        assert_eq!(first.retry_after, Duration::from_secs(1));
        assert!(first.message_id.ends_with("@wasmq.invalid>"));
        assert_eq!(first, prepared(payload, 2).unwrap());
    }

    #[test]
    fn without_config_sending_is_a_permanent_error_naming_the_key() {
        // Natively, config comes from WASMQ_CONFIG_* variables; none is set.
        if config::get("mail_api").is_some() {
            return;
        }
        let err = run(r#"{"to":"a@b.c","subject":"s"}"#, 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Permanent);
        assert!(
            err.message()
                .starts_with("email: no `mail_api` in [config] of email.toml"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn settings_name_the_manifest_table_and_key() {
        let api = || Some("http://127.0.0.1:8025/v1/messages".to_owned());
        let token = || Ok::<_, TaskError>("t0ken".to_owned());
        assert_eq!(
            settings(api(), token()).unwrap(),
            ("http://127.0.0.1:8025/v1/messages".into(), "t0ken".into())
        );
        let no_api = settings(None, token()).unwrap_err();
        assert_eq!(
            no_api.message(),
            "email: no `mail_api` in [config] of email.toml: set it to the mail API's URL, \
             e.g. mail_api = \"https://mail.example.com/v1/messages\""
        );
        let no_token = settings(api(), Err(TaskError::permanent("x"))).unwrap_err();
        assert_eq!(no_token.kind(), ErrorKind::Permanent);
        assert!(
            no_token.message().contains("[secrets] mail_token"),
            "{no_token}"
        );
        let blank = settings(api(), Ok("\t".into())).unwrap_err();
        assert!(blank.message().contains("is empty"), "{blank}");
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
    fn simulated_failures_are_retryable_with_a_delay_and_need_no_config() {
        let err = run(r#"{"to":"a@b.c","subject":"s","simulate":"transient"}"#, 5).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert_eq!(err.retry_delay(), Some(Duration::from_secs(1)));

        let payload = r#"{"to":"a@b.c","subject":"s","fail_attempts":2,"retry_after_ms":10}"#;
        for attempt in 1..=2 {
            let err = run(payload, attempt).unwrap_err();
            assert!(err.message().contains("simulated failure"), "{err}");
            assert_eq!(err.retry_delay(), Some(Duration::from_millis(10)));
        }
        let third = prepared(payload, 3).unwrap();
        assert_eq!(third.retry_after, Duration::from_millis(10));
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
