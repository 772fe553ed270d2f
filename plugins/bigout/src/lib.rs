//! `bigout`: returns an output of the requested size.
//!
//! Tests the host's limit on output size (and the cost of copying a large
//! result out of the sandbox). Payload `{"bytes": N}`, default 8 MiB; the
//! bytes follow the pattern `i % 251` so a truncated or shifted copy shows.

use serde::Deserialize;
use wasmq_plugin_sdk::{Output, Task, TaskError};

/// The output size without a payload.
pub const DEFAULT_BYTES: u32 = 8 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    bytes: Option<u32>,
}

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let bytes = if task.payload.is_empty() {
        DEFAULT_BYTES
    } else {
        task.json::<Request>()?.bytes.unwrap_or(DEFAULT_BYTES)
    };
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    Ok(Output::bytes(data).with_content_type("application/octet-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_pattern() {
        assert_eq!(handle(Task::new("bigout", "")).unwrap().data.len(), 8 << 20);
        assert_eq!(
            handle(Task::new("bigout", "{}")).unwrap().data.len(),
            8 << 20
        );
        let out = handle(Task::new("bigout", r#"{"bytes":300}"#)).unwrap();
        assert_eq!(out.data.len(), 300);
        assert_eq!((out.data[250], out.data[251], out.data[299]), (250, 0, 48));
        assert!(handle(Task::new("bigout", r#"{"bytes":-1}"#)).is_err());
    }
}
