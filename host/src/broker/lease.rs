//! Leasing: moving pending tasks to the active set, within the queue's
//! limits.
//!
//! One script call (`lua/lease.lua`) checks the pause, the throttle, the
//! global concurrency cap and the rate limit, and leases at most what they
//! allow, under a fresh random token and a deadline. When a limit binds the
//! reply says how long nothing can be leased, which the host's leaser uses
//! to hold that queue instead of polling it (see `limits.rs`).

use super::client::Client;
use super::consumer::{Failure, LeasedTask};
use super::due::DueAt;
use super::error::{BrokerError, BrokerResult};
use super::options::{MAX_BATCH, millis};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::error::ValidationError;
use crate::ratelimit::QueueLimits;
use crate::task::{TaskId, TaskRecord};
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, instrument};

/// How long a host waits before looking again at a queue whose global
/// concurrency cap is reached (a task may end on any host meanwhile).
pub const CAP_POLL: Duration = Duration::from_millis(25);

/// What one lease call got.
#[derive(Debug, Default)]
pub struct LeaseBatch {
    /// The tasks leased (maybe none).
    pub tasks: Vec<LeasedTask>,
    /// Set when a limit binds (rate used up, concurrency cap reached, queue
    /// throttled): no lease gets anything from this queue before then.
    pub wait: Option<Duration>,
}

impl Client {
    /// Leases up to `max` pending tasks of `queue` (1 to 1000), highest
    /// priority first. Returns an empty list when nothing is pending or the
    /// queue is paused. Members that are not valid tasks are set aside in the
    /// queue's garbage list and dead set, logged, and skipped. Limits set in
    /// Redis apply; see [`Client::lease_within`] for the wait they impose.
    pub async fn lease(&self, queue: &str, max: usize) -> BrokerResult<Vec<LeasedTask>> {
        Ok(self
            .lease_within(queue, max, &QueueLimits::default())
            .await?
            .tasks)
    }

    /// [`Client::lease`] within the queue's limits: those set in Redis, or
    /// `defaults` (the plugin manifest's) when none are. The reply says how
    /// long to wait before the next lease can get anything when a limit or a
    /// throttle binds, so a limited queue is not polled.
    #[instrument(skip_all, fields(kind = queue, max))]
    pub async fn lease_within(
        &self,
        queue: &str,
        max: usize,
        defaults: &QueueLimits,
    ) -> BrokerResult<LeaseBatch> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(ValidationError::OutOfRange {
                what: "lease count".into(),
                reason: format!("{max} is not in 1..={MAX_BATCH}"),
            }
            .into());
        }
        let keys = self.keys(queue)?;
        // One fresh token for the batch: every settlement presents it, and a
        // later lease of the same task (after this one expired) gets another.
        let token: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        let lease_ms = millis(self.inner.opts.lease_duration);
        let op = format!("lease from queue {queue:?}");
        let mut inv = SCRIPTS.lease.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.pending[..])
            .key(&keys.active)
            .key(&keys.lease)
            .key(&keys.meta)
            .key(&keys.tasks)
            .key(&keys.paused)
            .key(&keys.wake)
            .key(&keys.dead)
            .key(&keys.garbage)
            .key(&keys.stats)
            .key(&keys.limits)
            .key(&keys.rate_state)
            .key(&keys.throttle)
            .arg(max)
            .arg(&*token)
            .arg(lease_ms);
        // The manifest's limits go with every call: the script uses them
        // only when the queue has no limits hash in Redis.
        let rate = defaults.rate;
        inv.arg(rate.map_or(0, |r| r.count))
            .arg(rate.map_or(0, |r| r.period.millis()))
            .arg(defaults.effective_burst())
            .arg(defaults.concurrency.unwrap_or(0))
            .arg(millis(CAP_POLL));
        let r = Reply::of(&op);
        let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
        let now = match items.next() {
            Some(v) => r.int(&v)?,
            None => return Err(BrokerError::reply(&op, "empty reply")),
        };
        // Paused, or a limit or throttle binds: nothing leased, and how long
        // to leave the queue alone.
        if now == -1 {
            return Ok(LeaseBatch::default()); // paused
        }
        if now == -2 {
            let ms = items.next().map(|v| r.uint(&v)).transpose()?.unwrap_or(1);
            metrics::counter!("wasmq_broker_lease_limited_total", "queue" => queue.to_owned())
                .increment(1);
            return Ok(LeaseBatch {
                tasks: Vec::new(),
                wait: Some(Duration::from_millis(ms.max(1))),
            });
        }
        let started = u64::try_from(now).unwrap_or(0);
        // Members the script set aside are buried already; log and count
        // them here, where the queue is known.
        let garbage = items
            .next()
            .map(|v| r.array(v))
            .transpose()?
            .unwrap_or_default();
        let wait = items.next().map(|v| r.uint(&v)).transpose()?.unwrap_or(0);
        let wait = (wait > 0).then(|| Duration::from_millis(wait));
        let first = items.next().map(|v| r.uint(&v)).transpose()?.unwrap_or(0) == 1;
        for id in garbage {
            let id = r.text(id)?;
            error!(queue, local_id = %id, "set aside a malformed task record (garbage list, dead set)");
            metrics::counter!("wasmq_broker_garbage_total", "queue" => queue.to_owned())
                .increment(1);
        }
        // The leased tasks. A body the script's header check passed but that
        // does not decode is buried under this lease's token instead.
        let mut tasks = Vec::new();
        while let (Some(id), Some(attempt), Some(body)) = (items.next(), items.next(), items.next())
        {
            let local = r.text(id)?;
            let attempt = u32::try_from(r.uint(&attempt)?).unwrap_or(u32::MAX);
            let body = r.bytes(body)?;
            let id = TaskId::from_parts(queue, &local);
            match TaskRecord::decode(&body) {
                Ok(rec) => tasks.push(LeasedTask {
                    id,
                    attempt,
                    max_attempts: rec.max_retries.saturating_add(1),
                    priority: rec.priority,
                    timeout: (rec.timeout_ms > 0).then(|| Duration::from_millis(rec.timeout_ms)),
                    fuel: rec.fuel,
                    enqueued_at_ms: rec.enqueued_at_ms,
                    started_at_ms: started,
                    lease_deadline_ms: started.saturating_add(lease_ms),
                    payload: rec.payload,
                    token: token.clone(),
                }),
                Err(e) => {
                    error!(task_id = %id, error = %e, "set aside a malformed task record");
                    metrics::counter!("wasmq_broker_garbage_total", "queue" => queue.to_owned())
                        .increment(1);
                    let failure = Failure {
                        reason: "malformed".into(),
                        message: e.to_string(),
                        plugin_version: String::new(),
                        run: None,
                    };
                    // Never let this step cost the rest of the batch: the
                    // good tasks are leased already and must reach the
                    // caller. If burying fails, the bad one stays leased and
                    // the reaper brings it back to be set aside again.
                    if let Err(e) = self.dead_inner(&id, &token, &failure, true).await {
                        error!(task_id = %id, error = %e, "could not set aside a malformed task record; its lease will expire and it will be set aside again");
                    }
                }
            }
        }
        metrics::counter!("wasmq_broker_leased_total", "queue" => queue.to_owned())
            .increment(tasks.len() as u64);
        // The queue's first lease: index its deadline, so the reaper visits
        // if it runs out (later leases expire no sooner than a visit finds).
        if first && !tasks.is_empty() {
            let deadline = DueAt::At(started.saturating_add(lease_ms));
            self.mark_due_or_warn(queue, deadline).await;
        }
        Ok(LeaseBatch { tasks, wait })
    }

    /// Gives back a wake token taken from `queue` but not used: leaves one
    /// when work is pending there and no token is (`rewake.lua`), so another
    /// idle host looks now. Returns whether a token was left. The leaser
    /// calls it for a token it took but will not lease for (shutting down,
    /// no room, type no longer served).
    pub async fn rewake(&self, queue: &str) -> BrokerResult<bool> {
        let keys = self.keys(queue)?;
        let op = format!("give back the wake token of queue {queue:?}");
        let mut inv = SCRIPTS.rewake.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.pending[..])
            .key(&keys.wake);
        let left = Reply::of(&op).uint(&self.invoke(&inv, &op).await?)?;
        Ok(left == 1)
    }
}
