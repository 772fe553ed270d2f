//! `fuel-hog`: a long but finite busy loop.
//!
//! 10^10 iterations take tens of seconds even natively, so with any sensible
//! fuel budget the host runs out of fuel long before the task's deadline:
//! tests use it to tell a fuel trap from a timeout. Were it ever allowed to
//! finish, it returns the accumulator as text.

use std::hint::black_box;

use wasmq_plugin_sdk::{Output, Task, TaskError};

/// Iterations of the loop.
pub const ITERATIONS: u64 = 10_000_000_000;

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    let mut acc = 0u64;
    for i in 0..black_box(ITERATIONS) {
        acc = black_box(acc.wrapping_mul(31).wrapping_add(i));
    }
    Ok(Output::text(acc.to_string()))
}
