//! The result of one run, classified so the worker can decide what to do.
//!
//! Every way a run can end is a distinct [`OutcomeKind`] rather than an
//! error string, because the worker treats them differently. This module
//! only says how a run ended; what that means for the task (retry, dead
//! letter, release) is decided in one place, the worker's retry policy
//! (`worker/policy.rs`).

use serde::{Serialize, Serializer};
use std::time::Duration;

/// What happened in one run, and what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// How the run ended.
    #[serde(flatten)]
    pub kind: OutcomeKind,
    /// Fuel consumed (about one unit per WebAssembly instruction). Exact
    /// when the handler returns or runs out of fuel. When the host stops it
    /// (timeout, cancellation) it is a lower bound: wasmtime keeps the fuel
    /// counter in a register and saves it only at calls and returns, not at
    /// the epoch check where the run is interrupted.
    pub fuel_used: u64,
    /// The largest linear memory size reached, in bytes.
    pub peak_memory: u64,
    /// Wall-clock time from instantiation to the end of the call.
    #[serde(rename = "wall_time_ms", serialize_with = "millis")]
    pub wall_time: Duration,
    /// The task log: `log` entries, then the guest's stdout and stderr
    /// (each bounded, truncation marked).
    pub log: String,
    /// The last progress the handler reported, if any.
    pub progress: Option<(u8, String)>,
    /// The child tasks the handler enqueued (`wasmq:plugin/tasks`), in
    /// order; always empty unless the run succeeded, since only a
    /// successful run commits its children.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<crate::task::ChildSpec>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The handler returned output.
    Success {
        #[serde(serialize_with = "bytes_as_text")]
        output: Vec<u8>,
        content_type: Option<String>,
    },
    /// The handler asked to be retried (a command exited with 75).
    Retryable {
        message: String,
        #[serde(rename = "retry_after_ms", serialize_with = "optional_millis")]
        retry_after: Option<Duration>,
    },
    /// The handler said the task can never succeed (a command exited with
    /// another non-zero code).
    Permanent { message: String },
    /// The fuel budget was spent.
    OutOfFuel,
    /// The wall-clock timeout passed.
    TimedOut {
        #[serde(rename = "after_ms", serialize_with = "millis")]
        after: Duration,
    },
    /// The handler needed more linear memory than its limit.
    OutOfMemory { limit: u64 },
    /// The handler recursed past the wasm stack limit.
    StackOverflow,
    /// Any other trap; `message` includes the wasm backtrace.
    Trap { message: String },
    /// The handler panicked; `message` is the panic text from stderr.
    Panic { message: String },
    /// The output is larger than the output limit.
    OutputTooLarge { size: u64, limit: u64 },
    /// The run was cancelled through its [`CancelToken`](super::CancelToken).
    Cancelled,
}

impl Outcome {
    /// Whether the handler succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self.kind, OutcomeKind::Success { .. })
    }

    /// A stable snake_case name for metrics labels and logs.
    pub fn label(&self) -> &'static str {
        self.kind.label()
    }
}

impl OutcomeKind {
    /// A stable snake_case name (`success`, `out_of_fuel`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            OutcomeKind::Success { .. } => "success",
            OutcomeKind::Retryable { .. } => "retryable",
            OutcomeKind::Permanent { .. } => "permanent",
            OutcomeKind::OutOfFuel => "out_of_fuel",
            OutcomeKind::TimedOut { .. } => "timed_out",
            OutcomeKind::OutOfMemory { .. } => "out_of_memory",
            OutcomeKind::StackOverflow => "stack_overflow",
            OutcomeKind::Trap { .. } => "trap",
            OutcomeKind::Panic { .. } => "panic",
            OutcomeKind::OutputTooLarge { .. } => "output_too_large",
            OutcomeKind::Cancelled => "cancelled",
        }
    }

    /// A one-line human description, for logs and the command line.
    pub fn describe(&self) -> String {
        match self {
            OutcomeKind::Success { output, .. } => {
                format!("success ({} bytes of output)", output.len())
            }
            OutcomeKind::Retryable {
                message,
                retry_after,
            } => match retry_after {
                Some(after) => format!("retryable error (retry after {after:?}): {message}"),
                None => format!("retryable error: {message}"),
            },
            OutcomeKind::Permanent { message } => format!("permanent error: {message}"),
            OutcomeKind::OutOfFuel => "out of fuel: the task used its whole fuel budget".into(),
            OutcomeKind::TimedOut { after } => format!("timed out after {after:?}"),
            OutcomeKind::OutOfMemory { limit } => {
                format!("out of memory: the task needed more than its {limit} byte limit")
            }
            OutcomeKind::StackOverflow => "stack overflow".into(),
            OutcomeKind::Trap { message } => format!("trap: {message}"),
            OutcomeKind::Panic { message } => format!("panic: {message}"),
            OutcomeKind::OutputTooLarge { size, limit } => {
                format!("output too large: {size} bytes, limit {limit}")
            }
            OutcomeKind::Cancelled => "cancelled".into(),
        }
    }
}

/// Durations serialize as (fractional) milliseconds: `"wall_time_ms": 0.29`.
fn millis<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.as_secs_f64() * 1000.0)
}

fn optional_millis<S: Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => millis(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// Output as a JSON string when it is UTF-8, else as `{"hex": ..., "len": ...}`.
fn bytes_as_text<S: Serializer>(value: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match std::str::from_utf8(value) {
        Ok(text) => serializer.serialize_str(text),
        Err(_) => {
            let mut map = serializer.serialize_map(Some(2))?;
            map.serialize_entry("hex", &hex::encode(value))?;
            map.serialize_entry("len", &value.len())?;
            map.end()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(kind: OutcomeKind) -> Outcome {
        Outcome {
            kind,
            fuel_used: 10,
            peak_memory: 65536,
            wall_time: Duration::from_millis(3),
            log: String::new(),
            progress: None,
            children: Vec::new(),
        }
    }

    #[test]
    fn serializes_flat_with_a_tag() {
        let json = serde_json::to_value(outcome(OutcomeKind::Success {
            output: b"{\"ok\":true}".to_vec(),
            content_type: Some("application/json".into()),
        }))
        .unwrap();
        assert_eq!(json["outcome"], "success");
        assert_eq!(json["output"], "{\"ok\":true}");
        assert_eq!(json["wall_time_ms"], 3.0);
        let json = serde_json::to_value(outcome(OutcomeKind::Success {
            output: vec![0xff, 0x00],
            content_type: None,
        }))
        .unwrap();
        assert_eq!(json["output"]["hex"], "ff00");
        let json = serde_json::to_value(outcome(OutcomeKind::TimedOut {
            after: Duration::from_secs(2),
        }))
        .unwrap();
        assert_eq!(json["outcome"], "timed_out");
        assert_eq!(json["after_ms"], 2000.0);
    }

    #[test]
    fn labels_match_the_serde_tag() {
        let kinds = [
            OutcomeKind::OutOfFuel,
            OutcomeKind::StackOverflow,
            OutcomeKind::Cancelled,
            OutcomeKind::OutOfMemory { limit: 1 },
            OutcomeKind::OutputTooLarge { size: 2, limit: 1 },
            OutcomeKind::Panic {
                message: "boom".into(),
            },
        ];
        for kind in kinds {
            let json = serde_json::to_value(outcome(kind.clone())).unwrap();
            assert_eq!(json["outcome"], kind.label());
        }
    }
}
