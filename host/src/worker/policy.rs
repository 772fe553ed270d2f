//! What happens to a task once its plugin has run: the retry policy.
//!
//! The outcome of a run says *how* it ended; this module decides what that
//! means for the task. The rule is about determinism: a failure that would
//! happen again with the same input on the same plugin is not retried.
//!
//! | outcome | decision |
//! |---|---|
//! | `Success` | ack (the result and the plugin version are stored) |
//! | `Retryable` | retry with backoff; the plugin's `retry-after` wins |
//! | `TimedOut` | retry: a slow dependency may recover |
//! | `Trap`, `Panic` | retry: may come from the environment (a flaky input fetch that the plugin turned into an `unwrap`) |
//! | `Permanent` | dead at once: the handler said so |
//! | `OutOfFuel` | dead at once: fuel metering is deterministic, it would run out again |
//! | `OutOfMemory`, `StackOverflow`, `OutputTooLarge` | dead at once: same input, same result |
//! | `Cancelled` | released to the broker, which records it cancelled (or, at a forced shutdown, pending again, the attempt not counted) |
//!
//! A retry on the task's last attempt is dead instead (`retries-exhausted`).
//! How many attempts a task gets and how long it waits between them comes,
//! first match wins, from the task type's manifest (`max_retries`,
//! `backoff_base`, `backoff_cap`), then the task itself (`max_retries` given
//! at enqueue), then the host's defaults. The delay is exponential with full
//! jitter ([`RetryPolicy::backoff`]).
//!
//! A manifest can only *lower* the number of retries below what the task
//! carries: the broker's retry and reaper scripts still dead-letter a task
//! after the attempts stored in its record.

use crate::plugins::PluginPolicy;
use crate::runtime::OutcomeKind;
use crate::task::RetryPolicy;
use rand::Rng;
use std::time::Duration;

/// What to do with a task whose plugin has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Completed: ack with the output.
    Ack,
    /// Failed, worth another attempt after `delay`.
    Retry {
        /// The backoff (or the plugin's retry-after).
        delay: Duration,
    },
    /// Failed for good: to the dead-letter set with this reason.
    Dead {
        /// A short machine-readable reason (`permanent`, `out_of_fuel`, `retries-exhausted`, ...).
        reason: &'static str,
    },
    /// Stopped by a cancellation: give the lease back to the broker.
    Release,
}

/// The retry settings that apply to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveRetry {
    /// Backoff base and cap.
    pub policy: RetryPolicy,
    /// The attempt after which a failure is final.
    pub max_attempts: u32,
}

impl EffectiveRetry {
    /// The manifest's settings over the task's over the host's.
    pub fn resolve(host: &RetryPolicy, manifest: &PluginPolicy, task_max_attempts: u32) -> Self {
        let base = manifest.backoff_base.unwrap_or(host.base);
        let cap = manifest.backoff_cap.unwrap_or(host.cap).max(base);
        let max_attempts = manifest
            .max_retries
            .map(|retries| retries.saturating_add(1))
            .unwrap_or(task_max_attempts)
            .max(1);
        EffectiveRetry {
            policy: RetryPolicy {
                base,
                cap,
                max_retries: max_attempts - 1,
            },
            max_attempts,
        }
    }
}

/// Decides the fate of attempt number `attempt` that ended with `kind`.
pub fn decide<R: Rng + ?Sized>(
    kind: &OutcomeKind,
    attempt: u32,
    retry: &EffectiveRetry,
    rng: &mut R,
) -> Decision {
    let retry_after = match kind {
        OutcomeKind::Success { .. } => return Decision::Ack,
        OutcomeKind::Cancelled => return Decision::Release,
        OutcomeKind::Retryable { retry_after, .. } => *retry_after,
        OutcomeKind::TimedOut { .. } | OutcomeKind::Trap { .. } | OutcomeKind::Panic { .. } => None,
        OutcomeKind::Permanent { .. }
        | OutcomeKind::OutOfFuel
        | OutcomeKind::OutOfMemory { .. }
        | OutcomeKind::StackOverflow
        | OutcomeKind::OutputTooLarge { .. } => {
            return Decision::Dead {
                reason: kind.label(),
            };
        }
    };
    if attempt >= retry.max_attempts {
        return Decision::Dead {
            reason: "retries-exhausted",
        };
    }
    Decision::Retry {
        delay: retry.policy.backoff(attempt, retry_after, rng),
    }
}

/// How long to throttle the whole queue after a run that ended with
/// `kind`: the plugin's retry-after, when its manifest asks for
/// `throttle_on_retry_after` (a 429 means the service is overloaded for
/// every task, not just this one).
pub fn queue_throttle(kind: &OutcomeKind, policy: &PluginPolicy) -> Option<Duration> {
    match kind {
        OutcomeKind::Retryable {
            retry_after: Some(after),
            ..
        } if policy.throttle_on_retry_after && !after.is_zero() => Some(*after),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn all_kinds() -> Vec<OutcomeKind> {
        vec![
            OutcomeKind::Success {
                output: vec![],
                content_type: None,
            },
            OutcomeKind::Retryable {
                message: "later".into(),
                retry_after: None,
            },
            OutcomeKind::Retryable {
                message: "later".into(),
                retry_after: Some(Duration::from_secs(7)),
            },
            OutcomeKind::Permanent {
                message: "no".into(),
            },
            OutcomeKind::OutOfFuel,
            OutcomeKind::TimedOut {
                after: Duration::from_secs(1),
            },
            OutcomeKind::OutOfMemory { limit: 1 },
            OutcomeKind::StackOverflow,
            OutcomeKind::Trap {
                message: "unreachable".into(),
            },
            OutcomeKind::Panic {
                message: "boom".into(),
            },
            OutcomeKind::OutputTooLarge { size: 2, limit: 1 },
            OutcomeKind::Cancelled,
        ]
    }

    fn retry(max_attempts: u32) -> EffectiveRetry {
        EffectiveRetry::resolve(
            &RetryPolicy::default(),
            &PluginPolicy::default(),
            max_attempts,
        )
    }

    #[test]
    fn the_documented_table() {
        let mut rng = StdRng::seed_from_u64(1);
        let decisions: Vec<String> = all_kinds()
            .iter()
            .map(|kind| match decide(kind, 1, &retry(4), &mut rng) {
                Decision::Ack => "ack".to_owned(),
                Decision::Retry { .. } => "retry".to_owned(),
                Decision::Dead { reason } => format!("dead:{reason}"),
                Decision::Release => "release".to_owned(),
            })
            .collect();
        assert_eq!(
            decisions,
            [
                "ack",
                "retry",
                "retry",
                "dead:permanent",
                "dead:out_of_fuel",
                "retry",
                "dead:out_of_memory",
                "dead:stack_overflow",
                "retry",
                "retry",
                "dead:output_too_large",
                "release",
            ]
        );
    }

    #[test]
    fn plugin_retry_after_wins_over_backoff() {
        let kind = OutcomeKind::Retryable {
            message: String::new(),
            retry_after: Some(Duration::from_secs(7)),
        };
        let decision = decide(&kind, 1, &retry(3), &mut StdRng::seed_from_u64(3));
        assert_eq!(
            decision,
            Decision::Retry {
                delay: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn manifest_overrides_task_and_host() {
        let host = RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_retries: 3,
        };
        let manifest = PluginPolicy {
            max_retries: Some(1),
            backoff_base: Some(Duration::from_millis(10)),
            backoff_cap: Some(Duration::from_millis(20)),
            ..PluginPolicy::default()
        };
        let effective = EffectiveRetry::resolve(&host, &manifest, 10);
        assert_eq!(effective.max_attempts, 2);
        assert_eq!(effective.policy.base, Duration::from_millis(10));
        assert_eq!(effective.policy.cap, Duration::from_millis(20));
        let unset = EffectiveRetry::resolve(&host, &PluginPolicy::default(), 10);
        assert_eq!(unset.max_attempts, 10);
        assert_eq!(unset.policy.cap, Duration::from_secs(60));
        // A manifest base above the host cap lifts the cap rather than inverting them.
        let base_only = PluginPolicy {
            backoff_base: Some(Duration::from_secs(120)),
            ..PluginPolicy::default()
        };
        let lifted = EffectiveRetry::resolve(&host, &base_only, 3);
        assert_eq!(lifted.policy.cap, Duration::from_secs(120));
    }

    proptest! {
        #[test]
        fn retries_stop_at_the_last_attempt(
            kind_index in 0usize..12,
            attempt in 1u32..20,
            max_attempts in 1u32..20,
            seed in any::<u64>(),
        ) {
            let kind = &all_kinds()[kind_index];
            let effective = retry(max_attempts);
            match decide(kind, attempt, &effective, &mut StdRng::seed_from_u64(seed)) {
                Decision::Retry { delay } => {
                    prop_assert!(attempt < max_attempts);
                    prop_assert!(delay <= effective.policy.cap || delay == Duration::from_secs(7));
                }
                Decision::Dead { reason: "retries-exhausted" } => prop_assert!(attempt >= max_attempts),
                Decision::Dead { .. } | Decision::Ack | Decision::Release => {
                    // Independent of the attempt number.
                    let again = decide(kind, 1, &retry(100), &mut StdRng::seed_from_u64(seed));
                    let retried = matches!(again, Decision::Retry { .. });
                    prop_assert!(!retried);
                }
            }
        }

        #[test]
        fn resolved_policy_is_always_usable(
            base in proptest::option::of(1u64..100_000),
            cap in proptest::option::of(1u64..100_000),
            retries in proptest::option::of(0u32..1000),
            task_max in 0u32..1000,
        ) {
            let manifest = PluginPolicy {
                max_retries: retries,
                backoff_base: base.map(Duration::from_millis),
                backoff_cap: cap.map(Duration::from_millis),
                ..PluginPolicy::default()
            };
            let effective = EffectiveRetry::resolve(&RetryPolicy::default(), &manifest, task_max);
            prop_assert!(effective.max_attempts >= 1);
            prop_assert!(effective.policy.base <= effective.policy.cap);
        }
    }

    #[test]
    fn retry_after_throttles_the_queue_only_when_the_manifest_asks() {
        let kind = OutcomeKind::Retryable {
            message: "429".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        let mut policy = PluginPolicy::default();
        assert_eq!(queue_throttle(&kind, &policy), None);
        policy.throttle_on_retry_after = true;
        assert_eq!(queue_throttle(&kind, &policy), Some(Duration::from_secs(7)));
        let plain = OutcomeKind::Retryable {
            message: "oops".into(),
            retry_after: None,
        };
        assert_eq!(queue_throttle(&plain, &policy), None);
        assert_eq!(queue_throttle(&OutcomeKind::OutOfFuel, &policy), None);
    }
}
