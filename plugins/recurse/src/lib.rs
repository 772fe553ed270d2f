//! `recurse`: unbounded recursion until the stack runs out.
//!
//! The recursion is not a tail call (the result is used after the call) and
//! `black_box` hides the exit condition, so the optimiser can neither turn it
//! into a loop nor remove it. The host must report the resulting trap (call
//! stack exhausted, or an out-of-bounds access when Rust's shadow stack in
//! linear memory overflows first) as a failed attempt and stay up.

use std::hint::black_box;

use wasmq_plugin_sdk::{Output, Task, TaskError};

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    Ok(Output::text(depth(0).to_string()))
}

fn depth(n: u64) -> u64 {
    if black_box(n) == u64::MAX {
        return 0;
    }
    black_box(depth(n + 1)).wrapping_add(n)
}
