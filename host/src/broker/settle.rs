//! Settling leased tasks: ack, retry, dead, extend, release.
//!
//! Each call is token-checked by its script, so a consumer whose lease ran
//! out gets [`Settlement::StaleLease`] back and changes nothing.

use super::client::Client;
use super::consumer::{Completion, Failure, LeasedTask, Settlement, group_by_queue};
use super::due::DueAt;
use super::error::{BrokerError, BrokerResult};
use super::options::{MAX_BATCH, MAX_CALL_BYTES, millis, split_calls};
use super::records::ack_tail;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::TaskId;
use std::time::Duration;
use tracing::{instrument, warn};

/// The dead reason of a task whose payload no key of the host opens.
pub const UNDECRYPTABLE: &str = "undecryptable";

/// Bytes an ack call spends per task beside its record tail (id, token,
/// the protocol's framing), for cutting calls by size.
const ACK_ARG_OVERHEAD: usize = 64;

impl Client {
    /// Acks finished tasks (any mix of queues): one script call per queue
    /// and chunk. Returns, in order, [`Settlement::Completed`] or
    /// [`Settlement::StaleLease`] for each.
    #[instrument(skip_all, fields(n = done.len()))]
    pub async fn ack_many(
        &self,
        done: &[(LeasedTask, Completion)],
    ) -> BrokerResult<Vec<Settlement>> {
        let mut out = vec![Settlement::StaleLease; done.len()];
        for (queue, indices) in group_by_queue(done.iter().map(|(t, _)| &t.id)) {
            let keys = self.keys(&queue)?;
            let bucket = self.bucket(&keys);
            // The record tails are built first, so that a call is cut by
            // bytes as well as by count: a few large outputs must not make
            // one call larger than Redis takes (its query buffer).
            let tails: Vec<Vec<u8>> = indices
                .iter()
                .map(|&i| {
                    let (task, c) = &done[i];
                    if !bucket.keep {
                        return Vec::new();
                    }
                    let output = self.seal(crate::crypto::Field::Output, &queue, &c.output);
                    ack_tail(
                        task.attempt,
                        task.enqueued_at_ms,
                        task.started_at_ms,
                        millis(c.wall),
                        c.fuel_used,
                        &c.plugin_version,
                        c.content_type.as_deref(),
                        c.run.as_ref().map(|r| r.peak_memory),
                        &output,
                    )
                })
                .collect();
            // Children go to the outbox in the same script (outbox.rs).
            let enqueued_at_ms = crate::task::unix_ms(std::time::SystemTime::now());
            let default_retries = self.inner.opts.retry.max_retries;
            let children: Vec<Vec<u8>> = indices
                .iter()
                .map(|&i| {
                    let children = self.seal_children(&done[i].1.children);
                    super::outbox::encode(&children, default_retries, enqueued_at_ms)
                })
                .collect();
            // The run history is kept only when results are (it expires with
            // them); the run's cost always goes to the cost histograms.
            let runs: Vec<[String; 3]> = indices
                .iter()
                .map(|&i| {
                    let c = &done[i].1;
                    match &c.run {
                        Some(run) if bucket.keep => {
                            self.run_args(&queue, run, &c.plugin_version, "")
                        }
                        Some(run) => [
                            run.tail(&c.plugin_version, ""),
                            String::new(),
                            String::new(),
                        ],
                        None => Default::default(),
                    }
                })
                .collect();
            let sizes = tails
                .iter()
                .zip(&children)
                .zip(&runs)
                .map(|((t, c), r)| t.len() + c.len() + r[1].len() + ACK_ARG_OVERHEAD);
            for range in split_calls(sizes, MAX_BATCH, MAX_CALL_BYTES) {
                let chunk = &indices[range.clone()];
                let mut inv = SCRIPTS.ack.prepare_invoke();
                inv.key(&keys.active)
                    .key(&keys.lease)
                    .key(&keys.meta)
                    .key(&keys.tasks)
                    .key(&keys.cancel)
                    .key(&keys.stats)
                    .key(&keys.throughput)
                    .key(&bucket.keys()[..])
                    .key(&keys.outbox)
                    .key(keys.cost(self.cost_window()));
                for &i in chunk {
                    inv.key(keys.run(done[i].0.id.local()));
                }
                let channel = match self.inner.opts.publish_completions {
                    true => self.inner.global.done_channel.as_str(),
                    false => "",
                };
                inv.arg(&bucket.args()[..])
                    .arg(channel)
                    .arg(&queue)
                    .arg(chunk.len())
                    .arg(bucket.ttl_ms.max(1))
                    .arg(millis(super::costs::COST_KEEP));
                for (((&i, tail), kids), run) in chunk
                    .iter()
                    .zip(&tails[range.clone()])
                    .zip(&children[range.clone()])
                    .zip(&runs[range])
                {
                    let task = &done[i].0;
                    inv.arg(task.id.local())
                        .arg(task.token())
                        .arg(tail)
                        .arg(kids)
                        .arg(&run[..]);
                }
                let op = format!("ack tasks of queue {queue:?}");
                let flags = self.invoke_flags(&inv, &op, chunk.len()).await?;
                let r = Reply::of(&op);
                let mut stale = 0u64;
                for (&i, flag) in chunk.iter().zip(flags) {
                    out[i] = if r.int(&flag)? == 1 {
                        Settlement::Completed
                    } else {
                        stale += 1;
                        Settlement::StaleLease
                    };
                }
                metrics::counter!("wasmq_broker_acked_total", "queue" => queue.clone())
                    .increment(chunk.len() as u64 - stale);
                metrics::counter!("wasmq_broker_stale_leases_total", "queue" => queue.clone())
                    .increment(stale);
            }
        }
        Ok(out)
    }

    /// Acks one finished task.
    #[instrument(skip_all, fields(task_id = %task.id, kind = task.id.queue()))]
    pub async fn ack(&self, task: &LeasedTask, completion: Completion) -> BrokerResult<Settlement> {
        let out = self.ack_many(&[(task.clone(), completion)]).await?;
        Ok(out.first().copied().unwrap_or(Settlement::StaleLease))
    }

    /// Schedules a retry of a failed task after `delay` (zero: straight back
    /// to pending). When the task has used its last attempt it goes to the
    /// dead set instead ([`Settlement::Dead`], reason `retries-exhausted`);
    /// when its cancellation was requested it becomes cancelled.
    #[instrument(skip_all, fields(task_id = %task.id, kind = task.id.queue()))]
    pub async fn retry(
        &self,
        task: &LeasedTask,
        delay: Duration,
        failure: &Failure,
    ) -> BrokerResult<Settlement> {
        let keys = self.keys(task.id.queue())?;
        let bucket = self.bucket(&keys);
        let opts = &self.inner.opts;
        let op = format!("retry task {}", task.id);
        // Index the retry's due time before and after the write (due.rs).
        if !delay.is_zero() {
            self.mark_due_or_warn(task.id.queue(), DueAt::In(delay))
                .await;
        }
        let mut inv = SCRIPTS.retry.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.active)
            .key(&keys.lease)
            .key(&keys.meta)
            .key(&keys.tasks)
            .key(&keys.retry)
            .key(&keys.dead)
            .key(&keys.pending[..])
            .key(&keys.wake)
            .key(&keys.cancel)
            .key(&keys.stats)
            .key(&keys.throughput)
            .key(&keys.garbage)
            .key(&bucket.keys()[..])
            .key(keys.run(task.id.local()))
            .key(keys.cost(self.cost_window()))
            .arg(task.id.local())
            .arg(task.token())
            .arg(millis(delay))
            .arg(super::records::sanitize(&failure.plugin_version))
            .arg(self.seal_error(task.id.queue(), &failure.message))
            .arg(opts.dead_max_count)
            .arg(opts.dead_max_age_ms())
            .arg(&bucket.args()[..])
            .arg(&self.failure_run_args(task.id.queue(), failure)[..])
            .arg(opts.dead_max_age_ms())
            .arg(self.failure_channel())
            .arg(task.id.queue())
            .arg(millis(super::costs::COST_KEEP));
        let r = Reply::of(&op);
        let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
        let code = match items.next() {
            Some(v) => r.text(v)?,
            None => return Err(BrokerError::reply(&op, "empty reply")),
        };
        let settled = match code.as_str() {
            "stale" => Settlement::StaleLease,
            "requeued" => Settlement::Requeued,
            "dead" => Settlement::Dead,
            "cancelled" => Settlement::Cancelled,
            "retry" => Settlement::RetryScheduled {
                due_at_ms: match items.next() {
                    Some(v) => r.uint(&v)?,
                    None => return Err(BrokerError::reply(&op, "retry without due time")),
                },
            },
            other => {
                return Err(BrokerError::reply(
                    &op,
                    format!("unknown outcome {other:?}"),
                ));
            }
        };
        if settled.is_stale() {
            warn!("retry refused: the lease expired and the task was re-delivered");
        }
        if let Settlement::RetryScheduled { due_at_ms } = settled {
            self.mark_due_or_warn(task.id.queue(), DueAt::At(due_at_ms))
                .await;
        }
        Ok(settled)
    }

    /// Moves a failed task to the dead-letter set for good.
    #[instrument(skip_all, fields(task_id = %task.id, kind = task.id.queue()))]
    pub async fn dead(&self, task: &LeasedTask, failure: &Failure) -> BrokerResult<Settlement> {
        self.dead_inner(&task.id, task.token(), failure, false)
            .await
    }

    pub(crate) async fn dead_inner(
        &self,
        id: &TaskId,
        token: &str,
        failure: &Failure,
        malformed: bool,
    ) -> BrokerResult<Settlement> {
        let keys = self.keys(id.queue())?;
        let opts = &self.inner.opts;
        let op = format!("move task {id} to the dead set");
        let reason = if failure.reason.is_empty() {
            "failed".to_owned()
        } else {
            super::records::sanitize(&failure.reason)
        };
        let mut inv = SCRIPTS.dead.prepare_invoke();
        inv.key(&keys.active)
            .key(&keys.lease)
            .key(&keys.meta)
            .key(&keys.tasks)
            .key(&keys.dead)
            .key(&keys.cancel)
            .key(&keys.stats)
            .key(&keys.throughput)
            .key(&keys.garbage)
            .key(keys.run(id.local()))
            .key(keys.cost(self.cost_window()))
            .arg(id.local())
            .arg(token)
            .arg(super::records::sanitize(&failure.plugin_version))
            .arg(&reason)
            .arg(match reason.as_str() {
                // Says only which key failed, and must stay readable by
                // whoever fixes the keys.
                UNDECRYPTABLE => failure.message.clone(),
                _ => self.seal_error(id.queue(), &failure.message),
            })
            .arg(opts.dead_max_count)
            .arg(opts.dead_max_age_ms())
            .arg(if malformed { "1" } else { "0" })
            .arg(&self.failure_run_args(id.queue(), failure)[..])
            .arg(opts.dead_max_age_ms())
            .arg(self.failure_channel())
            .arg(id.queue())
            .arg(millis(super::costs::COST_KEEP));
        let r = Reply::of(&op);
        let code = r
            .array(self.invoke(&inv, &op).await?)?
            .into_iter()
            .next()
            .map(|v| r.text(v))
            .transpose()?;
        match code.as_deref() {
            Some("dead") => Ok(Settlement::Dead),
            Some("stale") => Ok(Settlement::StaleLease),
            other => Err(BrokerError::reply(
                &op,
                format!("unknown outcome {other:?}"),
            )),
        }
    }

    /// Pushes the lease deadline of `tasks`, all of `queue`, to `duration`
    /// from now (Redis's clock). Returns, in order, the new deadline in ms,
    /// or `None` where the lease is stale. One call per queue, so that a
    /// queue whose keys fail (its shard is down) fails alone: callers extend
    /// each queue separately.
    pub async fn extend(
        &self,
        queue: &str,
        tasks: &[LeasedTask],
        duration: Duration,
    ) -> BrokerResult<Vec<Option<u64>>> {
        let keys = self.keys(queue)?;
        if let Some(other) = tasks.iter().find(|t| t.id.queue() != queue) {
            return Err(BrokerError::reply(
                format!("extend leases in queue {queue:?}"),
                format!("task {} is not of this queue", other.id),
            ));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for chunk in tasks.chunks(MAX_BATCH) {
            let mut inv = SCRIPTS.extend.prepare_invoke();
            inv.key(&keys.active).key(&keys.lease);
            inv.arg(millis(duration)).arg(chunk.len());
            for task in chunk {
                inv.arg(task.id.local()).arg(task.token());
            }
            let op = format!("extend leases in queue {queue:?}");
            let r = Reply::of(&op);
            let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
            let deadline = match items.next() {
                Some(v) => r.uint(&v)?,
                None => return Err(BrokerError::reply(&op, "empty reply")),
            };
            for _ in chunk {
                let held = items.next().map(|v| r.int(&v)).transpose()? == Some(1);
                out.push(held.then_some(deadline));
            }
        }
        Ok(out)
    }

    /// Gives leased tasks back unrun, for a graceful shutdown: each returns to
    /// the front of its priority list and the attempt does not count.
    /// Returns, in order, [`Settlement::Released`], [`Settlement::Cancelled`]
    /// (its cancellation was requested) or [`Settlement::StaleLease`].
    pub async fn release(&self, tasks: &[LeasedTask]) -> BrokerResult<Vec<Settlement>> {
        let mut out = vec![Settlement::StaleLease; tasks.len()];
        for (queue, indices) in group_by_queue(tasks.iter().map(|t| &t.id)) {
            let keys = self.keys(&queue)?;
            let bucket = self.bucket(&keys);
            for chunk in indices.chunks(MAX_BATCH) {
                let mut inv = SCRIPTS.release.prepare_invoke();
                inv.wake_channel(self.wake_channel())
                    .key(&keys.active)
                    .key(&keys.lease)
                    .key(&keys.meta)
                    .key(&keys.tasks)
                    .key(&keys.pending[..])
                    .key(&keys.wake)
                    .key(&keys.cancel)
                    .key(&keys.stats)
                    .key(&bucket.keys()[..]);
                inv.arg(&bucket.args()[..]).arg(chunk.len());
                for &i in chunk {
                    inv.arg(tasks[i].id.local()).arg(tasks[i].token());
                }
                let op = format!("release tasks of queue {queue:?}");
                let flags = self.invoke_flags(&inv, &op, chunk.len()).await?;
                let r = Reply::of(&op);
                for (&i, flag) in chunk.iter().zip(flags) {
                    out[i] = match r.int(&flag)? {
                        1 => Settlement::Released,
                        2 => Settlement::Cancelled,
                        _ => Settlement::StaleLease,
                    };
                }
            }
        }
        Ok(out)
    }
}
