//! Taking work from Redis: the leaser.
//!
//! One loop per host asks the scheduler how much each served queue wants
//! (free slots plus prefetch), leases that much in one round trip per queue
//! (never holding more than `concurrency + 4 × lease_batch` leases in all,
//! verdicts on their way to Redis included),
//! and hands the tasks to the executors. A queue whose lease found nothing
//! is quiet: it is not leased again until its wake token comes (a `BLPOP`,
//! or on Cluster a notice then an `LPOP`: `broker/waiter.rs`), so an idle
//! host's calls do not grow with its queues (`wake.rs` says why that is
//! sound). When a round leases nothing the leaser sleeps until a token
//! comes, a running task finishes (room for another queue's work), the
//! plugin set changes, or a backoff or a limit's hold ends.
//!
//! A queue whose limits bind (rate used up, global concurrency cap
//! reached, throttled after a retry-after) is not polled either: the lease
//! reply says how long nothing can be leased from it, and the leaser holds
//! that queue alone until then (see `broker/limits.rs`); the others go on.
//!
//! The served queues are the registry's task types; a type that disappears
//! stops being leased and its buffered tasks are released at once. Redis
//! errors are counted and retried with backoff per queue, while the other
//! queues go on; the loop never gives up.

use super::Shared;
use super::execute::Ticket;
use super::settle::{Action, Verdict};
use super::stats::{Counted, redis_error};
use super::wake::{Quiet, WakeWaiter, give_back};
use crate::broker::LeasedTask;
use crate::ratelimit::QueueLimits;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Leases until `stop`; tasks that cannot be buffered are released.
pub async fn lease_loop(
    shared: Arc<Shared>,
    verdicts: UnboundedSender<Verdict>,
    stop: CancellationToken,
) {
    let mut plugins = shared.registry.subscribe();
    let mut served = Vec::new();
    let mut defaults = HashMap::new();
    refresh_queues(&shared, &verdicts, &mut served, &mut defaults);
    let mut wake = WakeWaiter::spawn(shared.broker.waiter(), shared.clone());
    let mut quiet = Quiet::default();
    let mut failing = Backoffs::default();
    let mut limited = Holds::default();
    while !stop.is_cancelled() {
        // A busy leaser never idles in the select below: look for plugin
        // changes on every round too.
        if plugins.has_changed().unwrap_or(false) {
            plugins.borrow_and_update();
            refresh_queues(&shared, &verdicts, &mut served, &mut defaults);
            give_back(&shared, quiet.retain(&served)).await;
        }
        // Tokens the waiter took since the last round: those queues are
        // looked at in this one.
        while let Some(woke) = wake.try_answer() {
            quiet.woke(woke);
        }
        // Room is bounded twice: by the scheduler (slots and prefetch) and by
        // the leases held in all, verdicts on their way to Redis included,
        // so a host never holds more than `max_held` leases, even when Redis
        // is slow to take the verdicts.
        let (wants, room) = shared.sched.with(|q| q.wants());
        let mut room = room.min(shared.max_held.saturating_sub(shared.inflight.len()));
        let mut leased_any = false;
        for (queue, want) in wants {
            if room == 0 {
                break;
            }
            // A failing queue waits out its own backoff, a limited one its
            // hold, a quiet one its token; the others go on.
            if failing.is_waiting(&queue) || limited.is_waiting(&queue) || quiet.is_quiet(&queue) {
                continue;
            }
            let limits = defaults.get(&queue).copied().unwrap_or_default();
            // Never dropped halfway, shutdown or not: Redis runs the script
            // whether or not anyone waits for its reply, and a reply not
            // taken leaves its tasks leased to nobody until the lease
            // expires (and costs them an attempt). The call is bounded by
            // the connection's response timeout; what it leases after a
            // shutdown began is buffered and released with the rest.
            let leased = (shared.broker)
                .lease_within(&queue, want.min(room), &limits)
                .await;
            match leased {
                Ok(batch) if batch.tasks.is_empty() => {
                    failing.succeeded(&queue);
                    match batch.wait {
                        Some(wait) => {
                            quiet.leased(&queue);
                            limited.hold(&queue, wait);
                        }
                        None => quiet.went_quiet(&queue, wake.max_queues()),
                    }
                }
                Ok(batch) => {
                    failing.succeeded(&queue);
                    quiet.leased(&queue);
                    if let Some(wait) = batch.wait {
                        limited.hold(&queue, wait);
                    }
                    let tasks = batch.tasks;
                    leased_any = true;
                    room = room.saturating_sub(tasks.len());
                    hand_over(&shared, &verdicts, &queue, tasks);
                }
                Err(e) => {
                    redis_error(&shared.stats, "lease", &e);
                    metrics::counter!("wasmq_lease_errors_total", "queue" => queue.clone())
                        .increment(1);
                    let delay = failing.failed(&queue);
                    warn!(task_type = %queue, retry_in_ms = delay.as_millis() as u64,
                        "leasing from this queue failed; other queues go on");
                }
            }
        }
        // A token taken but not leased for this round (no room was left for
        // its queue, or its lease failed) goes back, so that another host
        // looks now; the queue is not quiet, so this one looks again too.
        give_back(&shared, quiet.take_owed()).await;
        // Busy or idle, a host with room listens for its quiet queues.
        if room > 0 && quiet.any() && !wake.outstanding() {
            wake.request(quiet.waited());
        }
        if leased_any {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = failing.next_retry(), if failing.any() => {}
            _ = limited.next_end(), if limited.any() => {}
            changed = plugins.changed() => {
                if changed.is_err() {
                    // The registry is gone: nothing to serve any more.
                    stop.cancelled().await;
                    break;
                }
                refresh_queues(&shared, &verdicts, &mut served, &mut defaults);
                give_back(&shared, quiet.retain(&served)).await;
            }
            _ = shared.sched.room() => {}
            _ = shared.inflight.forgotten() => {}
            woke = wake.answer(), if wake.outstanding() => quiet.woke(woke),
        }
    }
    // A token taken and not yet leased for would otherwise be lost until
    // maintenance's sweep: give it back (each call bounded by the
    // connection's response timeout).
    if let Some(woke) = wake.try_answer() {
        quiet.woke(woke);
    }
    give_back(&shared, quiet.take_owed()).await;
    info!("stopped leasing");
}

/// Queues whose lease calls fail, each with its own backoff (100 ms
/// doubling to 2 s), so one unreachable queue does not hold up the others.
#[derive(Default)]
struct Backoffs {
    queues: HashMap<String, (Instant, Duration)>,
}

impl Backoffs {
    fn is_waiting(&self, queue: &str) -> bool {
        self.queues
            .get(queue)
            .is_some_and(|(until, _)| Instant::now() < *until)
    }

    /// Records a failure; returns how long the queue now waits.
    fn failed(&mut self, queue: &str) -> Duration {
        let entry = self
            .queues
            .entry(queue.to_owned())
            .or_insert((Instant::now(), Duration::from_millis(50)));
        entry.1 = (entry.1 * 2).min(Duration::from_secs(2));
        entry.0 = Instant::now() + entry.1;
        entry.1
    }

    fn succeeded(&mut self, queue: &str) {
        self.queues.remove(queue);
    }

    fn any(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Resolves when the earliest backoff ends.
    async fn next_retry(&self) {
        match self.queues.values().map(|(until, _)| *until).min() {
            Some(until) => tokio::time::sleep_until(until).await,
            None => std::future::pending().await,
        }
    }
}

/// Throttles `queue` on every host for `pause` (a plugin's retry-after,
/// see [`super::policy::queue_throttle`]), in the background: the run's
/// verdict does not wait for it, and a failure is logged and counted.
pub fn throttle_queue(shared: &Shared, queue: &str, pause: Duration) {
    let broker = shared.broker.clone();
    let queue = queue.to_owned();
    tokio::spawn(async move {
        match broker.throttle(&queue, pause).await {
            Ok(held) => {
                metrics::counter!("wasmq_queue_throttled_total", "queue" => queue.clone())
                    .increment(1);
                info!(task_type = %queue, throttled_ms = held.as_millis() as u64,
                    "plugin asked to retry later: throttling the queue on every host");
            }
            Err(e) => {
                metrics::counter!("wasmq_queue_throttle_errors_total", "queue" => queue.clone())
                    .increment(1);
                warn!(task_type = %queue, error = %e, "could not throttle the queue");
            }
        }
    });
}

/// Queues held back by their limits, each until its own instant.
#[derive(Default)]
struct Holds {
    queues: HashMap<String, Instant>,
}

impl Holds {
    fn hold(&mut self, queue: &str, wait: Duration) {
        self.queues.insert(queue.to_owned(), Instant::now() + wait);
    }

    /// True while `queue` is held; forgets holds that ended.
    fn is_waiting(&mut self, queue: &str) -> bool {
        match self.queues.get(queue) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                self.queues.remove(queue);
                false
            }
            None => false,
        }
    }

    fn any(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Resolves when the earliest hold ends.
    async fn next_end(&self) {
        match self.queues.values().min() {
            Some(until) => tokio::time::sleep_until(*until).await,
            None => std::future::pending().await,
        }
    }
}

/// Records new leases and passes them to the scheduler.
fn hand_over(
    shared: &Shared,
    verdicts: &UnboundedSender<Verdict>,
    queue: &str,
    tasks: Vec<LeasedTask>,
) {
    shared.stats.add(Counted::Leased, tasks.len() as u64);
    let tickets: Vec<Ticket> = tasks
        .into_iter()
        .map(|mut lease| {
            let payload = std::mem::take(&mut lease.payload);
            let ticket = Ticket {
                lease: lease.key(),
                attempt: lease.attempt,
                max_attempts: lease.max_attempts,
                enqueued_at_ms: lease.enqueued_at_ms,
                timeout: lease.timeout,
                fuel: lease.fuel,
                payload,
                cancel: Default::default(),
            };
            Ticket {
                cancel: shared.inflight.insert(lease),
                ..ticket
            }
        })
        .collect();
    release(verdicts, shared.sched.push(queue, tickets));
}

/// Re-reads the registry's types and caps; releases what is no longer
/// served. Logs the served set when it changed since `last`.
fn refresh_queues(
    shared: &Shared,
    verdicts: &UnboundedSender<Verdict>,
    last: &mut Vec<String>,
    defaults: &mut HashMap<String, QueueLimits>,
) {
    defaults.clear();
    for task_type in shared.registry.types() {
        if let Some(l) = shared.registry.get_loaded(&task_type)
            && !l.policy.limits.is_unlimited()
        {
            defaults.insert(task_type, l.policy.limits);
        }
    }
    let served: Vec<(String, Option<usize>)> = shared
        .registry
        .types()
        .into_iter()
        .map(|task_type| {
            let cap = shared
                .registry
                .get_loaded(&task_type)
                .and_then(|l| l.policy.max_concurrency)
                .map(|c| c as usize);
            (task_type, cap)
        })
        .collect();
    let names: Vec<String> = served.iter().map(|(t, _)| t.clone()).collect();
    if names != *last {
        info!(queues = ?names, "serving queues");
        *last = names;
    }
    let orphans = shared.sched.with(|q| q.set_queues(&served));
    if !orphans.is_empty() {
        warn!(
            n = orphans.len(),
            "releasing buffered tasks of task types no longer served"
        );
    }
    release(verdicts, orphans);
}

/// Sends release verdicts for tickets that will not run here.
pub fn release(verdicts: &UnboundedSender<Verdict>, tickets: Vec<Ticket>) {
    for ticket in tickets {
        let _ = verdicts.send(Verdict {
            lease: ticket.lease,
            action: Action::Release,
        });
    }
}
