//! `fanout`: enqueues child tasks, then fails its first attempts if asked.
//!
//! Payload `{"type": "echo", "n": 3, "fail_attempts": 0}`: enqueues `n`
//! children of `type` (payload: the child's index, as text), and on its
//! first `fail_attempts` attempts fails retryably **after** enqueueing, so
//! a test can show that a failed run commits none of its children and the
//! run that succeeds commits exactly `n`. With `"permanent": true` it fails
//! for good instead. Its output is the children's ids, one per line.
//!
//! Its manifest must grant the type: `[capabilities] enqueue = ["echo"]`.

use serde::Deserialize;
use wasmq_plugin_sdk::{Output, Task, TaskError, tasks};

#[derive(Deserialize)]
struct Fanout {
    #[serde(rename = "type")]
    task_type: String,
    n: u32,
    #[serde(default)]
    fail_attempts: u32,
    #[serde(default)]
    permanent: bool,
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let spec: Fanout = serde_json::from_slice(&task.payload)
        .map_err(|e| TaskError::permanent(format!("bad payload: {e}")))?;
    let mut ids = Vec::with_capacity(spec.n as usize);
    for index in 0..spec.n {
        let payload = index.to_string();
        ids.push(tasks::enqueue(
            &spec.task_type,
            payload.as_bytes(),
            tasks::Options::default(),
        )?);
    }
    if spec.permanent {
        return Err(TaskError::permanent("asked to fail for good"));
    }
    if task.attempt <= spec.fail_attempts {
        return Err(TaskError::retryable(format!(
            "asked to fail attempt {} of the first {}",
            task.attempt, spec.fail_attempts
        ))
        .retry_after(std::time::Duration::from_millis(10)));
    }
    Ok(Output::text(ids.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueues_n_then_fails_the_first_attempts() {
        let payload = r#"{"type": "echo", "n": 3, "fail_attempts": 1}"#;
        let err = handle(Task::new("fanout", payload)).unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(tasks::enqueued().len(), 3);
        let mut second = Task::new("fanout", payload);
        second.attempt = 2;
        let out = handle(second).unwrap();
        assert_eq!(String::from_utf8(out.data).unwrap().lines().count(), 3);
        let children = tasks::enqueued();
        assert_eq!(children[2].1, b"2");
    }
}
