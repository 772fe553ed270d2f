//! Running one leased task: the executors.
//!
//! The host runs `concurrency` executors, each a tokio task on the guest
//! runtime (a thread pool of its own, one thread per core, beside the one
//! that runs the leaser, the settler and the lease keeper). A plugin run is
//! a future: a guest waiting in a WASI call suspends it and costs a fiber
//! stack, not a thread, so thousands of tasks can wait at once; a CPU-bound
//! guest yields every epoch tick. Keeping guests on their own threads means
//! a burst of CPU-bound tasks shares the cores with the control loops
//! through the OS scheduler, instead of queueing lease extensions behind
//! wasm on the same tokio workers.
//!
//! Each executor takes the next task the scheduler allows, runs its plugin,
//! turns the [`Outcome`] into a verdict through the retry policy, hands the
//! verdict to the settler and takes the next task, without waiting for
//! Redis.
//!
//! The plugin is looked up when the task starts, not when it was leased: a
//! task leased just before a hot reload runs on the new version, and one
//! whose plugin was removed meanwhile is given back unrun (it waits for a
//! host that serves its type; it does not fail).

use super::Shared;
use super::policy::{Decision, EffectiveRetry, decide};
use super::report::{run_report, truncate};
use super::settle::{Action, Verdict};
use crate::broker::{Completion, Failure, LeaseKey};
use crate::config::Limits;
use crate::runtime::{CancelToken, Invocation, Outcome, OutcomeKind};
use futures::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, UnboundedSender};
use tracing::{debug, error, info, instrument, warn};

/// A leased task on its way to an executor, with its payload.
#[derive(Debug)]
pub struct Ticket {
    /// The lease the task is held under (its verdict settles this lease).
    pub lease: LeaseKey,
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

/// One executor: runs tasks until the scheduler closes. `_alive` is dropped
/// when it ends, which is how the worker knows it drained.
pub async fn executor(
    shared: Arc<Shared>,
    verdicts: UnboundedSender<Verdict>,
    _alive: mpsc::Sender<()>,
) {
    let mut metrics = TaskMetrics::default();
    let mut finished: Option<(String, Duration)> = None;
    // The last task is reported with the next request: one lock frees its slot and takes a job.
    while let Some(job) = shared
        .sched
        .next_job(
            finished
                .as_ref()
                .map(|(queue, took)| (queue.as_str(), *took)),
        )
        .await
    {
        let started = Instant::now();
        let (lease, attempt, max_attempts) = (
            job.item.lease.clone(),
            job.item.attempt,
            job.item.max_attempts,
        );
        let run = AssertUnwindSafe(run_task(&shared, &mut metrics, job.item))
            .catch_unwind()
            .await;
        // A panic still ends in a verdict, or the lease would be held until the host stops.
        let verdict = run.unwrap_or_else(|panic| {
            let text = panic_text(&panic);
            error!(task_id = %lease.id, attempt, panic = text,
                "running the task panicked (a bug in the host); the attempt counts");
            let retry = host_retry(&shared, lease.id.queue(), max_attempts);
            Verdict {
                action: host_panic_action(text, attempt, &retry),
                lease,
            }
        });
        // Handed over, not awaited: the next task starts while the settler talks to Redis.
        // The receiver only goes away when the worker is torn down.
        let _ = verdicts.send(verdict);
        finished = Some((job.queue, started.elapsed()));
    }
}

/// The retry settings of `task_type` as its plugin (if still loaded) and
/// the host define them.
fn host_retry(shared: &Shared, task_type: &str, max_attempts: u32) -> EffectiveRetry {
    let policy = shared
        .registry
        .get_loaded(task_type)
        .map(|l| l.policy)
        .unwrap_or_default();
    EffectiveRetry::resolve(&shared.retry, &policy, max_attempts)
}

/// What a run that panicked the host becomes: a failed attempt, retried or
/// dead by the task's policy like a trap. Giving the task back uncounted
/// would re-deliver an input that crashes the host forever.
fn host_panic_action(text: &str, attempt: u32, retry: &EffectiveRetry) -> Action {
    let kind = OutcomeKind::Trap {
        message: format!("the host panicked while running this task (a bug in wasmq): {text}"),
    };
    let failure = |reason: &str| Failure {
        reason: reason.to_owned(),
        message: truncate(kind.describe()),
        plugin_version: String::new(),
        run: None,
    };
    match decide(&kind, attempt, retry, &mut rand::rng()) {
        Decision::Retry { delay } => Action::Retry {
            delay,
            failure: failure("host-panic"),
        },
        Decision::Dead { reason } => Action::Dead(failure(reason)),
        // A trap is never acked or released.
        Decision::Ack | Decision::Release => Action::Dead(failure("host-panic")),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// Metric handles per task type (and outcome), so the per-task path does
/// not look them up (and allocate their labels) every time.
#[derive(Default)]
struct TaskMetrics {
    outcomes: HashMap<(String, &'static str), metrics::Counter>,
    costs: HashMap<(String, String), [metrics::Histogram; 3]>,
}

impl TaskMetrics {
    fn record(&mut self, task_type: &str, version: &str, outcome: &Outcome) {
        let label = outcome.label();
        match self.outcomes.get(&(task_type.to_owned(), label)) {
            Some(counter) => counter.increment(1),
            None => {
                let counter = metrics::counter!("wasmq_tasks_total", "task_type" => task_type.to_owned(), "outcome" => label);
                counter.increment(1);
                self.outcomes.insert((task_type.to_owned(), label), counter);
            }
        }
        let key = (task_type.to_owned(), version.to_owned());
        let [duration, fuel, memory] = self.costs.entry(key).or_insert_with(|| {
            let (t, v) = (task_type.to_owned(), version.to_owned());
            [
                metrics::histogram!("wasmq_task_duration_seconds", "task_type" => t.clone(), "plugin_version" => v.clone()),
                metrics::histogram!("wasmq_task_fuel_used", "task_type" => t.clone(), "plugin_version" => v.clone()),
                metrics::histogram!("wasmq_task_peak_memory_bytes", "task_type" => t, "plugin_version" => v),
            ]
        });
        duration.record(outcome.wall_time.as_secs_f64());
        fuel.record(outcome.fuel_used as f64);
        memory.record(outcome.peak_memory as f64);
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

#[instrument(skip_all, fields(task_id = %ticket.lease.id, task_type = ticket.lease.id.queue(), attempt = ticket.attempt, plugin_version))]
async fn run_task(shared: &Shared, metrics: &mut TaskMetrics, ticket: Ticket) -> Verdict {
    let Ticket {
        lease,
        attempt,
        max_attempts,
        enqueued_at_ms,
        timeout,
        fuel,
        payload,
        cancel,
    } = ticket;
    let id = &lease.id;
    // The plugin is looked up now, not at lease time, so a reload in between is honoured.
    let Some(loaded) = shared.registry.get_loaded(id.queue()) else {
        info!("no plugin serves this type any more; giving the task back");
        return Verdict {
            lease,
            action: Action::Release,
        };
    };
    let plugin = loaded.plugin;
    let version = plugin.version().to_owned();
    tracing::Span::current().record("plugin_version", version.as_str());
    // A sealed payload is opened here, as late as possible. One this host
    // cannot open would fail every attempt alike: it goes dead at once.
    let payload = match crate::crypto::is_sealed(&payload) {
        false => payload,
        true => match shared.broker.open_payload(id.queue(), &payload) {
            Ok(plain) => plain,
            Err(e) => return undecryptable(lease, e, version),
        },
    };
    // A flow parent runs on what the tasks it waited for produced: without
    // them it would act on nothing, so a failed read gives the task back.
    let children = if id.is_flow_parent() {
        match shared.broker.flow_results(id).await {
            Ok(Some(children)) => children,
            Ok(None) => {
                warn!("the flow record of this parent expired; it runs with no children's results");
                Vec::new()
            }
            Err(e) => {
                warn!(error = %e, "could not read the flow's results; giving the task back");
                return Verdict {
                    lease,
                    action: Action::Release,
                };
            }
        }
    } else {
        Vec::new()
    };
    let (feed, reports) = crate::runtime::ProgressFeed::new();
    let invocation = Invocation {
        id: id.to_string(),
        task_type: id.queue().to_owned(),
        payload,
        attempt,
        max_attempts,
        enqueued_at_ms,
        limits: run_limits(&plugin.limits(), timeout, fuel),
        max_child_payload: shared.broker.options().max_payload_bytes,
        children,
        progress: Some(feed),
    };
    // Past its deadline (and a grace) the run no longer holds its lease: a
    // run that somehow outlived its timer cannot keep a task forever.
    let run_timeout = invocation
        .limits
        .map_or(plugin.limits().timeout, |l| l.timeout);
    shared.inflight.running(&lease, run_timeout);
    // Debug only: the per-task line tests wait on to know a guest is in.
    debug!("run started");
    // Progress reports are kept with the task while it runs, not only at the end.
    let run = plugin.run(invocation, &cancel);
    let outcome = super::progress::run_with_progress(&shared.broker, &lease, reports, run).await;
    metrics.record(id.queue(), &version, &outcome);
    // The decision uses the policy of the version that ran, even if another was swapped in.
    let retry = EffectiveRetry::resolve(&shared.retry, &loaded.policy, max_attempts);
    let decision = decide(&outcome.kind, attempt, &retry, &mut rand::rng());
    // A retry-after may pause the whole queue; in the background, so the verdict never waits.
    if let Some(pause) = super::policy::queue_throttle(&outcome.kind, &loaded.policy) {
        super::leaser::throttle_queue(shared, id.queue(), pause);
    }
    let wall_ms = outcome.wall_time.as_millis() as u64;
    // What the run cost and logged goes to the task's run history with the verdict.
    let run = run_report(&outcome);
    let failure = |reason: &str| Failure {
        reason: reason.to_owned(),
        message: truncate(outcome.kind.describe()),
        plugin_version: version.clone(),
        run: Some(run.clone()),
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
                children: outcome.children,
                run: Some(run),
            })
        }
    };
    Verdict { lease, action }
}

/// The verdict on a task whose payload cannot be opened: dead, reason
/// `undecryptable`, with the reason (a key id, never a key) as its error.
fn undecryptable(lease: LeaseKey, error: crate::crypto::CryptoError, version: String) -> Verdict {
    error!(error = %error, "cannot decrypt the payload; moving the task to the dead-letter set");
    metrics::counter!("wasmq_tasks_undecryptable_total", "task_type" => lease.id.queue().to_owned())
        .increment(1);
    Verdict {
        lease,
        action: Action::Dead(Failure {
            reason: crate::broker::UNDECRYPTABLE.into(),
            message: format!("cannot decrypt the payload: {error}"),
            plugin_version: version,
            run: None,
        }),
    }
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
    fn a_host_panic_counts_an_attempt() {
        let retry = EffectiveRetry {
            policy: crate::task::RetryPolicy::default(),
            max_attempts: 3,
        };
        match host_panic_action("boom", 1, &retry) {
            Action::Retry { failure, .. } => {
                assert!(failure.message.contains("boom"), "{}", failure.message);
                assert!(failure.message.contains("host panicked"));
            }
            other => panic!("a first attempt that panicked must be retried, not {other:?}"),
        }
        match host_panic_action("boom", 3, &retry) {
            Action::Dead(failure) => assert_eq!(failure.reason, "retries-exhausted"),
            other => panic!("a last attempt that panicked must be dead, not {other:?}"),
        }
    }
}
