//! `panic`: panics on purpose.
//!
//! On wasm a Rust panic prints its message to stderr and traps, so the host
//! sees a trap (with the message in the plugin's stderr, if it captures it)
//! and must count the attempt as failed without taking the worker down.

use wasmq_plugin_sdk::{Output, Task, TaskError};

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    panic!(
        "plugin panicked on purpose: {}",
        String::from_utf8_lossy(&task.payload)
    );
}
