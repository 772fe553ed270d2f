//! `loop`: spins forever and never returns.
//!
//! The host must stop it with its wall-clock deadline (epoch interruption)
//! or its fuel budget; a host without either would hang a worker slot for
//! good. `black_box` keeps the optimiser from proving the loop empty.

use std::hint::black_box;

use wasmq_plugin_sdk::{Output, Task, TaskError};

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}
