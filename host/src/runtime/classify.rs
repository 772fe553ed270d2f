//! Turning the error that ended a run into an [`OutcomeKind`].
//!
//! wasmtime reports every abnormal end the same way, as an error. What it
//! means depends on what is inside (a `Trap` code, our own interruption
//! marker) and on what the sandbox saw during the run (a refused memory
//! growth, a panic message on stderr). An output past its limit never gets
//! here: a command's runner checks its stdout capture before classifying
//! (the failed write is why the guest stopped), and a component's output is
//! measured after it returns. The order of the
//! checks matters and is documented on [`classify`].

use super::outcome::OutcomeKind;
use super::sandbox::Interruption;
use std::time::Duration;
use wasmtime::{PoolConcurrencyLimitError, Trap};

/// What the sandbox observed during the run, beyond the error itself.
#[derive(Debug, Default)]
pub(crate) struct RunFacts<'a> {
    /// The guest's stderr (a Rust panic message lands here).
    pub stderr: &'a str,
    /// The memory limit, if a growth past it was refused.
    pub refused_memory: Option<u64>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// Classifies the error that ended a run. In order:
///
/// 1. a host interruption (timeout, cancellation) wins: it is why the run
///    stopped, whatever the guest was doing;
/// 2. a full instance pool is the host's problem, not the task's: it is
///    retryable and says so;
/// 3. fuel and stack exhaustion, from the trap code;
/// 4. a refused memory growth: the trap that follows (usually an abort after
///    a failed allocation) is a consequence of the missing memory;
/// 5. a panic message on stderr makes an `unreachable` trap a panic;
/// 6. anything else is a trap, with wasmtime's message and backtrace.
pub(crate) fn classify(error: &wasmtime::Error, facts: &RunFacts<'_>) -> OutcomeKind {
    match error.downcast_ref::<Interruption>() {
        Some(Interruption::TimedOut) => {
            return OutcomeKind::TimedOut {
                after: facts.elapsed,
            };
        }
        Some(Interruption::Cancelled) => return OutcomeKind::Cancelled,
        None => {}
    }
    if let Some(full) = error.downcast_ref::<PoolConcurrencyLimitError>() {
        return OutcomeKind::Retryable {
            message: format!("host busy: {full}; the task did not start"),
            retry_after: None,
        };
    }
    let trap = error.downcast_ref::<Trap>().copied();
    match trap {
        Some(Trap::OutOfFuel) => return OutcomeKind::OutOfFuel,
        Some(Trap::StackOverflow) => return OutcomeKind::StackOverflow,
        Some(Trap::Interrupt) => {
            return OutcomeKind::TimedOut {
                after: facts.elapsed,
            };
        }
        _ => {}
    }
    if let Some(limit) = facts.refused_memory {
        return OutcomeKind::OutOfMemory { limit };
    }
    if let Some(message) = panic_message(facts.stderr) {
        return OutcomeKind::Panic { message };
    }
    // `{:#}` is the whole chain (the wasm backtrace context, then the
    // trap), without the host's Rust backtrace that `{:?}` would add.
    OutcomeKind::Trap {
        message: format!("{error:#}"),
    }
}

/// Most bytes of a panic message kept in an outcome.
const PANIC_KEEP: usize = 4096;

/// Extracts a Rust panic message from stderr: from the `panicked at` line up
/// to the `note: run with RUST_BACKTRACE` hint, newlines folded to spaces.
pub(crate) fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.find("panicked at")?;
    let tail = &stderr[start..];
    let end = tail.find("\nnote: ").unwrap_or(tail.len());
    let mut message = tail[..end].trim().replace('\n', " ");
    if message.len() > PANIC_KEEP {
        message.truncate(message.floor_char_boundary(PANIC_KEEP));
        message.push_str(" [...]");
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn trap(trap: Trap) -> wasmtime::Error {
        wasmtime::Error::from(trap)
    }

    #[test]
    fn interruption_wins_over_everything() {
        let facts = RunFacts {
            refused_memory: Some(10),
            stderr: "thread panicked at src/lib.rs:1:1:\nboom",
            ..RunFacts::default()
        };
        let error = wasmtime::Error::from(Interruption::Cancelled).context("while calling handle");
        assert_eq!(classify(&error, &facts), OutcomeKind::Cancelled);
    }

    #[test]
    fn trap_codes_and_facts() {
        let plain = RunFacts::default();
        assert_eq!(
            classify(&trap(Trap::OutOfFuel), &plain),
            OutcomeKind::OutOfFuel
        );
        assert_eq!(
            classify(&trap(Trap::StackOverflow), &plain),
            OutcomeKind::StackOverflow
        );
        let oom = RunFacts {
            refused_memory: Some(64),
            ..RunFacts::default()
        };
        assert_eq!(
            classify(&trap(Trap::UnreachableCodeReached), &oom),
            OutcomeKind::OutOfMemory { limit: 64 }
        );
        let panicked = RunFacts {
            stderr: "\nthread '<unnamed>' panicked at src/lib.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n",
            ..RunFacts::default()
        };
        assert_eq!(
            classify(&trap(Trap::UnreachableCodeReached), &panicked),
            OutcomeKind::Panic {
                message: "panicked at src/lib.rs:3:5: boom".into()
            }
        );
        assert!(matches!(
            classify(&trap(Trap::MemoryOutOfBounds), &plain),
            OutcomeKind::Trap { message } if message.contains("out of bounds")
        ));
    }

    proptest! {
        #[test]
        fn panic_message_never_panics_and_is_bounded(stderr in ".{0,200}", filler in 0usize..10_000) {
            let stderr = format!("{stderr}panicked at {}", "é".repeat(filler));
            let message = panic_message(&stderr).unwrap();
            prop_assert!(message.len() <= PANIC_KEEP + 6);
            prop_assert!(message.starts_with("panicked at"));
        }
    }
}
