//! The dead-letter set: listing, re-driving and purging.
//!
//! Dead tasks keep their body and meta (reason, last error, attempts) until
//! they are re-driven, purged, or trimmed by the count and age bounds in
//! [`super::BrokerOptions`]. Bulk operations run in bounded script calls of
//! [`BULK_LIMIT`] tasks so Redis never blocks for long.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::invoke::count;
use super::records::Meta;
use super::reply::Reply;
use super::scripts::{Call, SCRIPTS};
use crate::task::{Priority, TaskId, TaskRecord};
use redis::Value;
use serde::Serialize;

/// Dead tasks handled per script call in bulk re-drives and purges.
pub const BULK_LIMIT: usize = 1000;

/// One entry of the dead-letter set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadTask {
    /// The task id.
    pub id: TaskId,
    /// When it died (ms since the Unix epoch, Redis's clock).
    pub died_at_ms: u64,
    /// Attempts it had.
    pub attempts: u32,
    /// Why it died.
    pub reason: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// The plugin version that last ran it.
    pub plugin_version: Option<String>,
    /// Its priority, if its body is intact.
    pub priority: Option<Priority>,
    /// When it was enqueued, if its body is intact.
    pub enqueued_at_ms: Option<u64>,
}

/// A page of the dead-letter set, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadPage {
    /// Dead tasks in the queue.
    pub total: u64,
    /// This page.
    pub tasks: Vec<DeadTask>,
}

/// Which dead tasks a re-drive or purge applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadSelector {
    /// One task.
    One(TaskId),
    /// Every dead task of one queue.
    Queue(String),
    /// Every dead task of every queue.
    All,
}

/// What a re-drive did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequeueReport {
    /// Tasks back in their pending lists with a fresh attempt count.
    pub requeued: u64,
    /// Entries with no usable body (set aside as malformed), deleted instead.
    pub dropped: u64,
}

impl Client {
    /// A page of a queue's dead-letter set, newest first.
    pub async fn list_dead(&self, queue: &str, offset: u64, limit: u64) -> BrokerResult<DeadPage> {
        let keys = self.keys(queue)?;
        let op = format!("list dead tasks of queue {queue:?}");
        let mut inv = SCRIPTS.dead_list.prepare_invoke();
        inv.key(&keys.dead)
            .key(&keys.tasks)
            .key(&keys.meta)
            .arg(offset)
            .arg(limit.clamp(1, BULK_LIMIT as u64));
        let r = Reply::of(&op);
        let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
        let total = match items.next() {
            Some(v) => r.uint(&v)?,
            None => return Err(BrokerError::reply(&op, "empty reply")),
        };
        let mut tasks = Vec::new();
        while let (Some(id), Some(died), Some(meta), Some(head)) =
            (items.next(), items.next(), items.next(), items.next())
        {
            let meta = r
                .opt_text(meta)?
                .and_then(|m| Meta::parse(&m))
                .unwrap_or_default();
            let head = r
                .opt_bytes(head)?
                .and_then(|h| TaskRecord::decode_header(&h).ok());
            tasks.push(DeadTask {
                id: TaskId::from_parts(queue, &r.text(id)?),
                died_at_ms: r.uint(&died)?,
                attempts: meta.attempt,
                reason: meta.reason,
                last_error: self.open_error(queue, meta.error),
                plugin_version: meta.version,
                priority: head.as_ref().map(|h| h.priority),
                enqueued_at_ms: head.as_ref().map(|h| h.enqueued_at_ms),
            });
        }
        Ok(DeadPage { total, tasks })
    }

    /// Re-drives dead tasks: back to pending with a fresh attempt count.
    pub async fn requeue_dead(&self, which: DeadSelector) -> BrokerResult<RequeueReport> {
        let mut report = RequeueReport::default();
        for (queue, one) in self.dead_targets(which).await? {
            let keys = self.keys(&queue)?;
            loop {
                let op = format!("re-drive dead tasks of queue {queue:?}");
                let mut inv = SCRIPTS.requeue_dead.prepare_invoke();
                inv.wake_channel(self.wake_channel())
                    .key(&keys.dead)
                    .key(&keys.tasks)
                    .key(&keys.meta)
                    .key(&keys.pending[..])
                    .key(&keys.wake)
                    .key(&keys.stats);
                let reply = self.invoke_selected(&mut inv, one.as_deref(), &op).await?;
                let r = Reply::of(&op);
                let counts = r.array(reply)?;
                let requeued = count(&r, &counts, 0)?;
                let dropped = count(&r, &counts, 1)?;
                report.requeued += requeued;
                report.dropped += dropped;
                if one.is_some() || requeued + dropped == 0 {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Deletes dead tasks for good; returns how many.
    pub async fn purge_dead(&self, which: DeadSelector) -> BrokerResult<u64> {
        let mut purged = 0;
        for (queue, one) in self.dead_targets(which).await? {
            let keys = self.keys(&queue)?;
            loop {
                let op = format!("purge dead tasks of queue {queue:?}");
                let mut inv = SCRIPTS.purge_dead.prepare_invoke();
                inv.key(&keys.dead).key(&keys.tasks).key(&keys.meta);
                let reply = self.invoke_selected(&mut inv, one.as_deref(), &op).await?;
                let n = Reply::of(&op).uint(&reply)?;
                purged += n;
                if one.is_some() || n == 0 {
                    break;
                }
            }
        }
        Ok(purged)
    }

    /// Adds the selector arguments of the re-drive and purge scripts (`one`
    /// and a local id, or `some` and [`BULK_LIMIT`] for a batch of the whole
    /// queue) and runs the call.
    async fn invoke_selected(
        &self,
        inv: &mut Call<'_>,
        one: Option<&str>,
        op: &str,
    ) -> BrokerResult<Value> {
        match one {
            Some(local) => inv.arg("one").arg(local),
            None => inv.arg("some").arg(BULK_LIMIT),
        };
        self.invoke(inv, op).await
    }

    /// (queue, Some(local id) for one task | None for the whole queue).
    async fn dead_targets(
        &self,
        which: DeadSelector,
    ) -> BrokerResult<Vec<(String, Option<String>)>> {
        Ok(match which {
            DeadSelector::One(id) => vec![(id.queue().to_owned(), Some(id.local().to_owned()))],
            DeadSelector::Queue(q) => {
                self.keys(&q)?;
                vec![(q, None)]
            }
            DeadSelector::All => self
                .queues()
                .await?
                .into_iter()
                .map(|q| (q, None))
                .collect(),
        })
    }
}
