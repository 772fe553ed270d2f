//! `sleep200`: sleeps 200 ms in a WASI call, then succeeds with an empty
//! output. The benchmark's stand-in for a handler that waits on I/O: it
//! costs the host almost no CPU, so its throughput measures how many runs a
//! host keeps in flight (`wasmq bench --plugin sleep200 --concurrency 1000`).

use std::time::Duration;

use wasmq_plugin_sdk::{Output, Task, TaskError};

/// How long each run waits.
const WAIT: Duration = Duration::from_millis(200);

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    std::thread::sleep(WAIT);
    Ok(Output::bytes(Vec::new()))
}
