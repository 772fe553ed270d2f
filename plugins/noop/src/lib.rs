//! `noop`: succeeds at once with an empty output.
//!
//! Benchmarks use it to measure what the host itself costs per task (lease,
//! instantiate, call, ack) with no handler work on top.

use wasmq_plugin_sdk::{Output, Task, TaskError};

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    Ok(Output::empty())
}
