//! `sleeper`: sleeps through WASI (`std::thread::sleep`, a monotonic-clock
//! subscription in `poll`), then succeeds, or fails retryably on its first
//! attempts.
//!
//! It is the handler that spends its time blocked in a host call rather than
//! in wasm code, where epoch interruption cannot reach it; and because its
//! run length is set by the payload, the host tests use it to hold a lease
//! for a known while (a host frozen mid-run, a queue failing beside it).
//!
//! It reports progress before it sleeps (`0%`, `sleeping N ms`), so tests
//! can see a running task's progress.
//!
//! Payload: `{"ms": N, "fail_attempts": K}`, both optional (N defaults to
//! 1000, K to 0). Attempts up to K fail with a retryable error after the
//! sleep; later attempts return `"slept N ms on attempt A"`.

use std::time::Duration;

use wasmq_plugin_sdk::{Output, Task, TaskError};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Sleep {
    #[serde(default)]
    ms: Option<u64>,
    #[serde(default)]
    fail_attempts: u32,
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let sleep: Sleep = if task.payload.is_empty() {
        Sleep::default()
    } else {
        task.json()?
    };
    let ms = sleep.ms.unwrap_or(1000);
    wasmq_plugin_sdk::progress(0, &format!("sleeping {ms} ms"));
    std::thread::sleep(Duration::from_millis(ms));
    if task.attempt <= sleep.fail_attempts {
        return Err(TaskError::retryable(format!(
            "failing attempt {} of the first {} on purpose",
            task.attempt, sleep.fail_attempts
        )));
    }
    Ok(Output::text(format!("slept {ms} ms on attempt {}", task.attempt)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_its_first_attempts_then_succeeds() {
        let mut task = Task::new("sleeper", r#"{"ms": 1, "fail_attempts": 1}"#);
        assert!(handle(task.clone()).is_err());
        task.attempt = 2;
        assert_eq!(
            handle(task).unwrap(),
            Output::text("slept 1 ms on attempt 2")
        );
    }

    #[test]
    fn rejects_an_unknown_field() {
        assert!(handle(Task::new("sleeper", r#"{"seconds": 1}"#)).is_err());
    }
}
