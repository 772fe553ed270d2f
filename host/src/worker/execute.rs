//! Running one leased task: the executors.
//!
//! The host runs `concurrency` executors. Each takes the next task the
//! scheduler allows, runs its plugin on a blocking thread (wasm runs
//! synchronously; a blocking thread keeps the async loops responsive),
//! turns the [`Outcome`] into a verdict through the retry policy, hands the
//! verdict to the settler and takes the next task, without waiting for Redis.
//!
//! The plugin is looked up when the task starts, not when it was leased: a
//! task leased just before a hot reload runs on the new version, and one
//! whose plugin was removed meanwhile is given back unrun (it waits for a
//! host that serves its type; it does not fail).

use super::Shared;
use super::policy::{Decision, EffectiveRetry, decide};
use super::settle::{Action, Verdict};
use crate::broker::{Completion, Failure};
use crate::config::Limits;
use crate::runtime::{CancelToken, Invocation, Outcome, OutcomeKind};
use crate::task::TaskId;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, instrument, warn};

/// Longest error message kept with a failed task.
const MAX_ERROR_LEN: usize = 4096;

/// A leased task on its way to an executor, with its payload.
#[derive(Debug)]
pub struct Ticket {
    /// The task id.
    pub id: TaskId,
    /// 1 on the first run.
    pub attempt: u32,
    /// The attempt after which a failure is final, as the task was enqueued.
    pub max_attempts: u32,
    /// When the producer enqueued it (ms since the epoch).
    pub enqueued_at_ms: u64,
    /// The producer's timeout, if it set one.
    pub timeout: Option<Duration>,
    /// The producer's fuel budget, if it set one.
    pub fuel: Option<u64>,
    /// The payload.
    pub payload: Vec<u8>,
    /// Trips when the task is cancelled or the host stops forcibly.
    pub cancel: CancelToken,
}

/// One executor: runs tasks until the scheduler closes.
pub async fn executor(shared: Arc<Shared>, verdicts: UnboundedSender<Verdict>) {
    while let Some(job) = shared.sched.next_job().await {
        let started = Instant::now();
        let verdict = run_task(&shared, job.item).await;
        // The receiver only goes away when the worker is torn down.
        let _ = verdicts.send(verdict);
        shared.sched.finish(&job.queue, started.elapsed());
    }
}

/// The limits of one run: the plugin's, lowered (never raised) by what the
/// producer asked for, since the manifest is the operator's bound.
fn run_limits(plugin: &Limits, timeout: Option<Duration>, fuel: Option<u64>) -> Option<Limits> {
    if timeout.is_none() && fuel.is_none() {
        return None;
    }
    Some(Limits {
        timeout: timeout.map_or(plugin.timeout, |t| t.min(plugin.timeout)),
        fuel: fuel.map_or(plugin.fuel, |f| f.min(plugin.fuel)),
        ..*plugin
    })
}

#[instrument(skip_all, fields(task_id = %ticket.id, kind = ticket.id.queue(), attempt = ticket.attempt, plugin_version))]
async fn run_task(shared: &Shared, ticket: Ticket) -> Verdict {
    let Ticket {
        id,
        attempt,
        max_attempts,
        enqueued_at_ms,
        timeout,
        fuel,
        payload,
        cancel,
    } = ticket;
    let Some(loaded) = shared.registry.get_loaded(id.queue()) else {
        info!("no plugin serves this type any more; giving the task back");
        return Verdict {
            id,
            action: Action::Release,
        };
    };
    let plugin = loaded.plugin;
    let version = plugin.version().to_owned();
    tracing::Span::current().record("plugin_version", version.as_str());
    let invocation = Invocation {
        id: id.to_string(),
        task_type: id.queue().to_owned(),
        payload,
        attempt,
        max_attempts,
        enqueued_at_ms,
        limits: run_limits(&plugin.limits(), timeout, fuel),
    };
    let run = tokio::task::spawn_blocking(move || plugin.run(invocation, &cancel));
    let outcome = match run.await {
        Ok(outcome) => outcome,
        Err(e) => Outcome {
            kind: OutcomeKind::Trap {
                message: format!("the host's run of the plugin failed: {e}"),
            },
            fuel_used: 0,
            peak_memory: 0,
            wall_time: Duration::ZERO,
            log: String::new(),
            progress: None,
        },
    };
    record_metrics(id.queue(), &outcome);
    let retry = EffectiveRetry::resolve(&shared.retry, &loaded.policy, max_attempts);
    let decision = decide(&outcome.kind, attempt, &retry, &mut rand::rng());
    let wall_ms = outcome.wall_time.as_millis() as u64;
    let failure = |reason: &str| Failure {
        reason: reason.to_owned(),
        message: truncate(outcome.kind.describe()),
        plugin_version: version.clone(),
    };
    let action = match decision {
        Decision::Retry { delay } => {
            info!(outcome = outcome.label(), wall_ms, retry_in_ms = delay.as_millis() as u64,
                error = %outcome.kind.describe(), "task failed; retrying");
            Action::Retry {
                delay,
                failure: failure(outcome.label()),
            }
        }
        Decision::Dead { reason } => {
            warn!(outcome = outcome.label(), reason, wall_ms, error = %outcome.kind.describe(),
                "task failed for good; moving it to the dead-letter set");
            if !outcome.log.is_empty() {
                info!(log = %outcome.log, "the failed task's log");
            }
            Action::Dead(failure(reason))
        }
        Decision::Release => {
            info!(wall_ms, "task stopped by cancellation; releasing its lease");
            Action::Release
        }
        Decision::Ack => {
            debug!(wall_ms, fuel_used = outcome.fuel_used, "task completed");
            let (output, content_type) = match outcome.kind {
                OutcomeKind::Success {
                    output,
                    content_type,
                } => (output, content_type),
                _ => (Vec::new(), None),
            };
            Action::Ack(Completion {
                output,
                content_type,
                plugin_version: version,
                fuel_used: Some(outcome.fuel_used),
                wall: outcome.wall_time,
            })
        }
    };
    Verdict { id, action }
}

fn record_metrics(task_type: &str, outcome: &Outcome) {
    let ty = task_type.to_owned();
    metrics::counter!("wasmq_tasks_total", "type" => ty.clone(), "outcome" => outcome.label())
        .increment(1);
    metrics::histogram!("wasmq_task_duration_seconds", "type" => ty.clone())
        .record(outcome.wall_time.as_secs_f64());
    metrics::histogram!("wasmq_task_fuel_used", "type" => ty.clone())
        .record(outcome.fuel_used as f64);
    metrics::histogram!("wasmq_task_peak_memory_bytes", "type" => ty)
        .record(outcome.peak_memory as f64);
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [truncated]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_may_lower_the_plugin_limits_but_never_raise_them() {
        let plugin = Limits::default();
        assert_eq!(run_limits(&plugin, None, None), None);
        let lower = run_limits(&plugin, Some(Duration::from_secs(1)), Some(10)).unwrap();
        assert_eq!((lower.timeout, lower.fuel), (Duration::from_secs(1), 10));
        let higher = run_limits(&plugin, Some(Duration::from_secs(3600)), Some(u64::MAX)).unwrap();
        assert_eq!((higher.timeout, higher.fuel), (plugin.timeout, plugin.fuel));
        assert_eq!(higher.memory, plugin.memory);
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = truncate(long);
        assert!(cut.ends_with(" [truncated]"));
        assert!(cut.len() <= MAX_ERROR_LEN + 12);
        assert_eq!(truncate("short".into()), "short");
    }
}
