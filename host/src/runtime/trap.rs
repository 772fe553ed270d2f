//! The outcome of a run that ended in an error, for both plugin kinds.
//!
//! Commands and components end abnormally the same way: wasmtime returns an
//! error (a trap, a host interruption, a refused instantiation). Both hand
//! it to [`classify`] with the same facts from the sandbox, so the facts are
//! gathered here once.

use super::classify::{RunFacts, classify};
use super::outcome::OutcomeKind;
use super::sandbox::Sandbox;
use crate::config::Limits;
use std::time::Duration;

/// Classifies the error that ended a run, given the guest's stderr, the
/// sandbox it ran in, its limits and how long it took. A memory growth the
/// sandbox refused is reported against `limits.memory`.
pub(crate) fn trapped(
    error: &wasmtime::Error,
    stderr: &str,
    sandbox: &Sandbox,
    limits: &Limits,
    elapsed: Duration,
) -> OutcomeKind {
    classify(
        error,
        &RunFacts {
            stderr,
            refused_memory: sandbox.limiter.refused.map(|_| limits.memory),
            elapsed,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            fuel: Limits::DEFAULT_FUEL,
            timeout: Limits::DEFAULT_TIMEOUT,
            memory: Limits::DEFAULT_MEMORY,
            max_output: Limits::DEFAULT_MAX_OUTPUT,
        }
    }

    #[test]
    fn a_refused_growth_is_out_of_memory_at_the_limit() {
        let limits = limits();
        let mut sandbox = Sandbox::new(&limits, Default::default());
        let error = wasmtime::Error::msg("unreachable");
        let elapsed = Duration::from_millis(1);
        assert!(matches!(
            trapped(&error, "", &sandbox, &limits, elapsed),
            OutcomeKind::Trap { .. }
        ));
        sandbox.limiter.refused = Some(1 << 30);
        assert_eq!(
            trapped(&error, "", &sandbox, &limits, elapsed),
            OutcomeKind::OutOfMemory {
                limit: Limits::DEFAULT_MEMORY
            }
        );
    }
}
