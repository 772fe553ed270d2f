//! `echo-v2`: the payload unchanged, typed `application/x-echo-v2`.
//!
//! Hot-reload tests replace `echo.wasm` with this binary and watch the
//! content type of new results change, which proves the host picked up the
//! new file without a restart.

use wasmq_plugin_sdk::{Output, Task, TaskError};

/// The content type that tells this build apart from `echo`.
pub const CONTENT_TYPE: &str = "application/x-echo-v2";

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    Ok(Output::bytes(task.payload).with_content_type(CONTENT_TYPE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_with_its_own_type() {
        let out = handle(Task::new("echo", r#"{"a":1}"#)).unwrap();
        assert_eq!(out.data, br#"{"a":1}"#);
        assert_eq!(out.content_type.as_deref(), Some(CONTENT_TYPE));
    }
}
