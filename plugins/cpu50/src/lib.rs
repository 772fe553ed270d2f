//! `cpu50`: a fixed amount of CPU work per task, about 50 µs.
//!
//! Throughput benchmarks need a handler whose cost is known and independent
//! of the payload, so that the host's own overhead per task can be read off
//! against it. The work is a chain of [`ROUNDS`] dependent multiply-xorshift
//! steps seeded from the payload; `black_box` keeps the optimiser from
//! folding it away. See `ROUNDS` for how the count was chosen.

use std::hint::black_box;

use wasmq_plugin_sdk::{Output, Task, TaskError};

/// Dependent mixing rounds per task, about 305,000 units of fuel.
///
/// Measured with `wasmq call` on the development machine (AMD EPYC, 2
/// cores, wasmtime 48): the median wall time of `cpu50` is 50-60 µs above
/// that of `noop` (0.25-0.26 ms against 0.20 ms per call, each in a fresh
/// process). On other machines it scales with single-core speed; natively
/// one call of this many rounds takes about 32 µs.
pub const ROUNDS: u32 = 11_000;

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let seed = task
        .payload
        .iter()
        .fold(0x9e37_79b9_7f4a_7c15u64, |h, &b| mix(h ^ u64::from(b)));
    Ok(Output::text(format!(
        "{:016x}",
        spin(seed, black_box(ROUNDS))
    )))
}

/// `rounds` dependent steps of a 64-bit mixer (splitmix64's finaliser).
fn spin(mut state: u64, rounds: u32) -> u64 {
    for _ in 0..rounds {
        state = black_box(mix(state));
    }
    state
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_payload_dependent() {
        let a = handle(Task::new("cpu50", "x")).unwrap();
        assert_eq!(a, handle(Task::new("cpu50", "x")).unwrap());
        assert_ne!(a, handle(Task::new("cpu50", "y")).unwrap());
    }

    #[test]
    fn native_time_per_call() {
        let start = std::time::Instant::now();
        let calls = 200;
        for i in 0..calls {
            spin(i, ROUNDS);
        }
        println!(
            "native: {:?} per call of {ROUNDS} rounds",
            start.elapsed() / calls as u32
        );
    }
}
