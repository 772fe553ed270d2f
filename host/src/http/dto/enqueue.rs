//! The enqueue request: JSON in, [`TaskSpec`] out.
//!
//! JSON has no duration or timestamp type, so `delay`, `timeout` and
//! `unique.ttl` take either a number of milliseconds or a humantime string
//! (`"5s"`, `"1m 30s"`), and `run_at` either milliseconds since the Unix
//! epoch or an RFC 3339 time. Those fields are read as raw JSON values and
//! converted here, rather than by serde, so a bad value gets a message that
//! names the field (`[3].delay` in a batch) and says what to write instead.
//! The bounds (a year ahead at most, fuel below 2^53, ...) are the ones of
//! [`TaskSpec::check_options`], which the broker enforces for every producer;
//! they are checked here too so that the message uses the API's field names.

use crate::config::units::parse_duration;
use crate::error::ValidationError;
use crate::http::error::ApiError;
use crate::task::{MAX_RETRIES, Priority, TaskSpec};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use utoipa::ToSchema;

/// One task to enqueue.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// The task type, which is also the queue and the plugin name.
    #[serde(rename = "type")]
    #[schema(example = "email")]
    pub task_type: String,
    /// The payload as any JSON value; it is stored as its JSON text.
    pub payload: Option<Value>,
    /// The payload as base64 bytes, for non-JSON payloads. Exclusive with
    /// `payload`.
    pub payload_b64: Option<String>,
    /// `high`, `normal` (default) or `low`.
    #[schema(example = "normal")]
    pub priority: Option<String>,
    /// Run no earlier than this long from now: milliseconds, or a duration
    /// such as `"5s"`. Exclusive with `run_at`.
    #[schema(value_type = Option<String>, example = "5s")]
    pub delay: Option<Value>,
    /// Run no earlier than this time: milliseconds since the Unix epoch, or
    /// RFC 3339 such as `"2030-01-01T00:00:00Z"`.
    #[schema(value_type = Option<String>, example = "2030-01-01T00:00:00Z")]
    pub run_at: Option<Value>,
    /// Retries after the first attempt (0 to 1000); default from the broker.
    pub max_retries: Option<i64>,
    /// Wall-clock limit per attempt: milliseconds or `"30s"` (1 ms to 365
    /// days).
    #[schema(value_type = Option<String>, example = "30s")]
    pub timeout: Option<Value>,
    /// Fuel budget per attempt (1 to 2^53 - 1).
    pub fuel: Option<i64>,
    /// Deduplication: while the key holds, enqueueing again returns the
    /// first task's id.
    pub unique: Option<UniqueRequest>,
}

/// A deduplication key and how long it holds.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UniqueRequest {
    /// 1 to 256 bytes.
    pub key: String,
    /// How long the key holds: milliseconds or `"1h"` (1 ms to 365 days).
    #[schema(value_type = String, example = "1h")]
    pub ttl: Value,
}

/// The id of an enqueued task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnqueueResponse {
    /// `<queue>:<local id>`.
    #[schema(example = "email:1a")]
    pub id: String,
}

/// The ids of a batch, in request order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResponse {
    /// One id per task, in the order they were sent.
    pub ids: Vec<String>,
}

impl EnqueueRequest {
    /// Validates the request and builds the task spec. `at` prefixes field
    /// names in errors (`""` for a single task, `"tasks[3]."` in a batch).
    pub fn into_spec(self, at: &str) -> Result<TaskSpec, ApiError> {
        let field = |name: &str, why: String| ApiError::bad_request(format!("`{at}{name}`: {why}"));
        if self.task_type.is_empty() {
            return Err(field(
                "type",
                "is missing or empty; name the task type".into(),
            ));
        }
        crate::error::validate_queue_name(&self.task_type)
            .map_err(|e| field("type", e.to_string()))?;
        let payload = match (self.payload, self.payload_b64) {
            (Some(_), Some(_)) => {
                return Err(field(
                    "payload_b64",
                    "set either `payload` (JSON) or `payload_b64` (bytes), not both".into(),
                ));
            }
            (Some(value), None) => serde_json::to_vec(&value)
                .map_err(|e| field("payload", format!("cannot be serialised: {e}")))?,
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    field(
                        "payload_b64",
                        format!("is not standard base64 ({e}); encode the bytes with padding"),
                    )
                })?,
            (None, None) => Vec::new(),
        };
        let mut spec = TaskSpec::new(self.task_type, payload);
        if let Some(priority) = self.priority {
            spec = spec.priority(
                priority
                    .parse::<Priority>()
                    .map_err(|e| field("priority", e.to_string()))?,
            );
        }
        match (self.delay, self.run_at) {
            (Some(_), Some(_)) => {
                return Err(field(
                    "run_at",
                    "set either `delay` or `run_at`, not both".into(),
                ));
            }
            (Some(delay), None) => {
                spec = spec.delay(duration_value(&delay).map_err(|e| field("delay", e))?);
            }
            (None, Some(at_value)) => {
                spec = spec.run_at(time_value(&at_value).map_err(|e| field("run_at", e))?);
            }
            (None, None) => {}
        }
        if let Some(retries) = self.max_retries {
            let retries = u32::try_from(retries)
                .ok()
                .filter(|r| *r <= MAX_RETRIES)
                .ok_or_else(|| {
                    field(
                        "max_retries",
                        format!("{retries} is not in 0..={MAX_RETRIES}"),
                    )
                })?;
            spec = spec.max_retries(retries);
        }
        if let Some(timeout) = self.timeout {
            spec = spec.timeout(duration_value(&timeout).map_err(|e| field("timeout", e))?);
        }
        if let Some(fuel) = self.fuel {
            let fuel = u64::try_from(fuel)
                .ok()
                .filter(|f| *f > 0)
                .ok_or_else(|| field("fuel", format!("{fuel} is not a positive number")))?;
            spec = spec.fuel(fuel);
        }
        if let Some(unique) = self.unique {
            if unique.key.is_empty() {
                return Err(field(
                    "unique.key",
                    "is empty; give a deduplication key".into(),
                ));
            }
            let ttl = duration_value(&unique.ttl).map_err(|e| field("unique.ttl", e))?;
            spec = spec.unique(unique.key, ttl);
        }
        spec.check_options(SystemTime::now()).map_err(|e| match e {
            ValidationError::TaskOption {
                field: name,
                reason,
                ..
            } => field(&name.replace("unique_", "unique."), reason),
            other => other.into(),
        })?;
        Ok(spec)
    }
}

/// A duration given as milliseconds (a non-negative integer) or as text.
fn duration_value(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(ms), _) => Ok(Duration::from_millis(ms)),
            (None, Some(neg)) => Err(format!(
                "{neg} is negative; give a duration of zero or more (milliseconds, or text like \"5s\")"
            )),
            _ => Err(format!(
                "{n} is not a whole number of milliseconds; write e.g. 1500 or \"1.5s\""
            )),
        },
        Value::String(text) => {
            if text.trim_start().starts_with('-') {
                return Err(format!(
                    "`{text}` is negative; give a duration of zero or more"
                ));
            }
            parse_duration(text)
        }
        other => Err(format!(
            "{other} is not a duration; give milliseconds (a number) or text like \"5s\""
        )),
    }
}

/// A point in time given as Unix milliseconds or RFC 3339 text.
fn time_value(value: &Value) -> Result<SystemTime, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
            .ok_or_else(|| {
                format!(
                    "{n} is not a whole, non-negative number of milliseconds since the Unix epoch"
                )
            }),
        Value::String(text) => humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
            format!(
                "`{text}` is not an RFC 3339 time ({e}); write it like \"2030-01-01T00:00:00Z\""
            )
        }),
        other => Err(format!(
            "{other} is not a time; give Unix milliseconds or RFC 3339 text"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Schedule;
    use proptest::prelude::*;
    use serde_json::json;

    fn request(value: Value) -> Result<TaskSpec, ApiError> {
        serde_json::from_value::<EnqueueRequest>(value)
            .unwrap()
            .into_spec("")
    }

    #[test]
    fn full_request() {
        let spec = request(json!({
            "type": "email", "payload": {"to": "a@b.c"}, "priority": "high", "delay": "2s",
            "max_retries": 3, "timeout": 1500, "fuel": 1000,
            "unique": {"key": "k", "ttl": "1h"}
        }))
        .unwrap();
        assert_eq!(spec.queue, "email");
        assert_eq!(spec.payload, br#"{"to":"a@b.c"}"#);
        assert_eq!(spec.priority, Priority::High);
        assert_eq!(spec.schedule, Schedule::Delay(Duration::from_secs(2)));
        assert_eq!(spec.max_retries, Some(3));
        assert_eq!(spec.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(spec.fuel, Some(1000));
        assert_eq!(spec.unique, Some(("k".into(), Duration::from_secs(3600))));
    }

    #[test]
    fn base64_payload_and_run_at() {
        let soon = crate::task::unix_ms(SystemTime::now() + Duration::from_secs(86400));
        let spec = request(json!({"type": "t", "payload_b64": "AAEC", "run_at": soon})).unwrap();
        assert_eq!(spec.payload, vec![0, 1, 2]);
        assert!(matches!(spec.schedule, Schedule::At(_)));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"type": "t", "priority": "urgent"}), "`priority`"),
            (json!({"type": "t", "delay": -5}), "`delay`"),
            (json!({"type": "t", "delay": "-5s"}), "negative"),
            (json!({"type": "t", "delay": 1.5}), "whole number"),
            (json!({"type": "t", "run_at": "tomorrow"}), "RFC 3339"),
            (json!({"type": "t", "delay": 1, "run_at": 1}), "not both"),
            (json!({"type": "a b"}), "`type`"),
            (json!({"type": ""}), "missing or empty"),
            (json!({"type": "t", "max_retries": -1}), "`max_retries`"),
            (json!({"type": "t", "fuel": 0}), "`fuel`"),
            (
                json!({"type": "t", "timeout": 0}),
                "`timeout`: is below 1 ms",
            ),
            (
                json!({"type": "t", "delay": "400d"}),
                "`delay`: is 34560000000 ms (about 400 days)",
            ),
            (
                json!({"type": "t", "run_at": "2999-01-01T00:00:00Z"}),
                "`run_at`",
            ),
            (json!({"type": "t", "fuel": 1_u64 << 53}), "2^53"),
            (
                json!({"type": "t", "unique": {"key": "k", "ttl": u64::MAX}}),
                "`unique.ttl`: is ",
            ),
            (
                json!({"type": "t", "unique": {"key": "k", "ttl": 0}}),
                "`unique.ttl`: is below 1 ms",
            ),
            (
                json!({"type": "t", "payload": 1, "payload_b64": "AA=="}),
                "not both",
            ),
            (json!({"type": "t", "payload_b64": "!!"}), "base64"),
            (
                json!({"type": "t", "unique": {"key": "", "ttl": 5}}),
                "`unique.key`",
            ),
        ];
        for (body, expected) in cases {
            let err = request(body.clone()).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{body}");
            assert!(err.message.contains(expected), "{body}: {}", err.message);
        }
    }

    #[test]
    fn batch_prefix_appears() {
        let req: EnqueueRequest =
            serde_json::from_value(json!({"type": "t", "priority": "x"})).unwrap();
        let err = req.into_spec("tasks[7].").unwrap_err();
        assert!(
            err.message.contains("`tasks[7].priority`"),
            "{}",
            err.message
        );
    }

    proptest! {
        #[test]
        fn millisecond_durations_round_trip(ms in 0u64..u64::from(u32::MAX)) {
            prop_assert_eq!(duration_value(&json!(ms)), Ok(Duration::from_millis(ms)));
            let text = crate::config::units::format_duration(Duration::from_millis(ms));
            prop_assert_eq!(duration_value(&json!(text)), Ok(Duration::from_millis(ms)));
        }

        #[test]
        fn negative_durations_are_refused(ms in i64::MIN..0) {
            prop_assert!(duration_value(&json!(ms)).unwrap_err().contains("negative"));
        }

        #[test]
        fn unix_ms_times_round_trip(ms in 0u64..4_000_000_000_000) {
            let t = time_value(&json!(ms)).unwrap();
            prop_assert_eq!(crate::task::unix_ms(t), ms);
        }
    }
}
