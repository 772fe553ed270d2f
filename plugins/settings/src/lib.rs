//! `settings`: returns the value of the config key its payload names
//! (`"greeting"`, JSON quotes optional), read through `wasi:config/store`.
//!
//! The host serves a plugin's `[config]` values and its `[secrets]`
//! (resolved from `env:` or `file:` at load) this way, and loads this
//! plugin only when its manifest has one of those tables. Returning a
//! secret is what a test does to prove it arrived; a real handler never
//! returns or logs one.

use wasmq_plugin_sdk::{Output, Task, TaskError, config};

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let text = String::from_utf8_lossy(&task.payload);
    let key = text.trim().trim_matches('"');
    Ok(Output::text(config::require(key)?))
}
