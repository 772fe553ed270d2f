//! `echo`: returns the payload unchanged.
//!
//! The content type tells the two cases apart, so a test can check that the
//! bytes made the round trip through the host untouched: `application/json`
//! when the payload parses as JSON, `application/octet-stream` otherwise.

use wasmq_plugin_sdk::{CONTENT_TYPE_JSON, Output, Task, TaskError};

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&task.payload).is_ok();
    let content_type = if is_json {
        CONTENT_TYPE_JSON
    } else {
        "application/octet-stream"
    };
    Ok(Output::bytes(task.payload).with_content_type(content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_binary_payloads() {
        let out = handle(Task::new("echo", r#"{"a":[1,2]}"#)).unwrap();
        assert_eq!(out.data, br#"{"a":[1,2]}"#);
        assert_eq!(out.content_type.as_deref(), Some("application/json"));
        let out = handle(Task::new("echo", vec![0u8, 159, 146, 150])).unwrap();
        assert_eq!(out.data, [0u8, 159, 146, 150]);
        assert_eq!(
            out.content_type.as_deref(),
            Some("application/octet-stream")
        );
    }
}
