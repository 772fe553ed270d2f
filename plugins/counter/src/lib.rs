//! `counter`: counts its own calls in a `static` and returns the count.
//!
//! The host runs each task in a fresh instance, so every task must see the
//! counter at zero and answer `"1"`. Any other answer means state leaked from
//! one task into the next, which is what the isolation tests look for.

use std::sync::atomic::{AtomicU64, Ordering};

use wasmq_plugin_sdk::{Output, Task, TaskError};

static CALLS: AtomicU64 = AtomicU64::new(0);

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    let count = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(Output::text(count.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Natively the static does persist: this is what a reused instance
    /// would look like, and what the host must prevent.
    #[test]
    fn counts_within_one_instance() {
        let first: u64 = String::from_utf8(handle(Task::new("counter", "")).unwrap().data)
            .unwrap()
            .parse()
            .unwrap();
        let second = handle(Task::new("counter", "")).unwrap();
        assert_eq!(second.data, (first + 1).to_string().into_bytes());
    }
}
