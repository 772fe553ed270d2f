//! Enqueueing: validation at the edge, durable enqueues, and the batch path.
//!
//! Batch enqueues are split per queue into chunks of
//! [`BrokerOptions::enqueue_chunk`] tasks, one script call per chunk, and the
//! chunks are sent concurrently so they pipeline on the connection (and fan
//! out to the right nodes on Cluster). Every task is validated before
//! anything is sent, so a bad one refuses the batch with nothing written.

use super::client::Client;
use super::due::DueAt;
use super::error::{BrokerError, BrokerResult};
use super::keys::QueueKeys;
use super::options::{BrokerOptions, millis};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::error::{MAX_UNIQUE_KEY_LEN, ValidationError};
use crate::task::{Schedule, TaskId, TaskRecord, TaskSpec, unix_ms};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{debug, instrument};

/// Chunks of one batch enqueue in flight at once.
const ENQUEUE_CONCURRENCY: usize = 8;

impl Client {
    /// Enqueues one task and returns its id. With a unique key that still
    /// holds, returns the id of the task that took the key instead.
    #[instrument(skip_all, fields(task_id, kind = %spec.queue))]
    pub async fn enqueue(&self, spec: TaskSpec) -> BrokerResult<TaskId> {
        let ids = self.enqueue_many(vec![spec]).await?;
        let id = ids
            .into_iter()
            .next()
            .ok_or_else(|| BrokerError::reply("enqueue", "no id returned"))?;
        tracing::Span::current().record("task_id", tracing::field::display(&id));
        Ok(id)
    }

    /// Enqueues many tasks (any mix of queues) and returns their ids in
    /// order. Every task is validated before anything is sent, and an
    /// invalid one (named by its index when there are several) refuses the
    /// whole batch. Each chunk is atomic and its script checks everything
    /// before writing; if Redis fails a chunk, earlier chunks may already be
    /// enqueued.
    ///
    /// With [`BrokerOptions::durable_replicas`], the ids are returned only
    /// once that many replicas have the tasks (see [`Client::durable`]).
    pub async fn enqueue_many(&self, specs: Vec<TaskSpec>) -> BrokerResult<Vec<TaskId>> {
        if self.inner.opts.durable_replicas == 0 {
            return self.enqueue_now(specs).await;
        }
        let durable = self.durable().await?;
        let ids = durable.enqueue_now(specs).await?;
        durable.wait_for_replicas(ids, &self.inner.opts).await
    }

    /// The client durable enqueues go through, opened on first use.
    ///
    /// `WAIT` blocks the connection it is sent on until the replicas answer
    /// (up to [`BrokerOptions::durable_timeout`]), and it covers the writes
    /// made on that connection. On the shared connection it would stall
    /// every lease and ack behind it, so durable enqueues get a client of
    /// their own: only they wait for each other.
    async fn durable(&self) -> BrokerResult<&Client> {
        self.inner
            .durable
            .get_or_try_init(|| async {
                let opts = BrokerOptions {
                    durable_replicas: 0,
                    response_timeout: self
                        .inner
                        .opts
                        .response_timeout
                        .max(self.inner.opts.durable_timeout + Duration::from_secs(1)),
                    ..self.inner.opts.clone()
                };
                let skew = self.inner.clock.skew_ms();
                Self::open_target(
                    self.inner.target.clone(),
                    opts,
                    skew,
                    "Redis (durable enqueues)",
                )
                .await
            })
            .await
    }

    async fn enqueue_now(&self, specs: Vec<TaskSpec>) -> BrokerResult<Vec<TaskId>> {
        let enqueued_at_ms = self.inner.clock.host_ms();
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(enqueued_at_ms);
        let batch = specs.len() > 1;
        let mut by_queue: HashMap<String, Vec<(usize, TaskSpec)>> = HashMap::new();
        for (index, spec) in specs.into_iter().enumerate() {
            self.validate(&spec, now).map_err(|e| {
                if batch {
                    ValidationError::InBatch {
                        index,
                        source: Box::new(e),
                    }
                } else {
                    e
                }
            })?;
            by_queue
                .entry(spec.queue.clone())
                .or_default()
                .push((index, spec));
        }
        let mut chunks = Vec::new();
        for (queue, tasks) in by_queue {
            self.register_queue(&queue).await?;
            let keys = self.keys(&queue)?;
            let mut tasks = tasks.into_iter().peekable();
            while tasks.peek().is_some() {
                let chunk: Vec<_> = tasks.by_ref().take(self.inner.opts.enqueue_chunk).collect();
                chunks.push((keys.clone(), chunk));
            }
        }
        let total: usize = chunks.iter().map(|(_, c)| c.len()).sum();
        let results: Vec<Vec<(usize, TaskId)>> = stream::iter(chunks)
            .map(|(keys, chunk)| self.enqueue_chunk(keys, chunk, enqueued_at_ms))
            .buffer_unordered(ENQUEUE_CONCURRENCY)
            .try_collect()
            .await?;
        let mut ids: Vec<Option<TaskId>> = vec![None; total];
        for (index, id) in results.into_iter().flatten() {
            if let Some(slot) = ids.get_mut(index) {
                *slot = Some(id);
            }
        }
        let ids: Vec<TaskId> = ids
            .into_iter()
            .map(|id| id.ok_or_else(|| BrokerError::reply("enqueue", "a task got no id")))
            .collect::<BrokerResult<_>>()?;
        Ok(ids)
    }

    /// Waits (Redis `WAIT`, on every master on Cluster) until
    /// `opts.durable_replicas` replicas have every write made so far on this
    /// client's connection, which includes `ids`.
    async fn wait_for_replicas(
        &self,
        ids: Vec<TaskId>,
        opts: &BrokerOptions,
    ) -> BrokerResult<Vec<TaskId>> {
        if ids.is_empty() {
            return Ok(ids);
        }
        let acked: u64 = redis::cmd("WAIT")
            .arg(opts.durable_replicas)
            .arg(millis(opts.durable_timeout))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("wait for replicas (WAIT)", e))?;
        if acked < u64::from(opts.durable_replicas) {
            metrics::counter!("wasmq_enqueue_not_replicated_total").increment(ids.len() as u64);
            return Err(BrokerError::NotReplicated {
                ids,
                acked,
                wanted: opts.durable_replicas,
                timeout: opts.durable_timeout,
            });
        }
        Ok(ids)
    }

    async fn enqueue_chunk(
        &self,
        keys: Arc<QueueKeys>,
        chunk: Vec<(usize, TaskSpec)>,
        enqueued_at_ms: u64,
    ) -> BrokerResult<Vec<(usize, TaskId)>> {
        // Delayed tasks are indexed before and after the write (due.rs);
        // a failure before leaves nothing written.
        let due = super::due::earliest(chunk.iter().map(|(_, spec)| &spec.schedule));
        let marks: Vec<(&str, DueAt)> = due.iter().map(|at| (keys.queue.as_str(), *at)).collect();
        self.mark_due(&marks).await?;
        let mut inv = SCRIPTS.enqueue.prepare_invoke();
        inv.wake_channel(self.wake_channel())
            .key(&keys.tasks)
            .key(&keys.pending[..])
            .key(&keys.scheduled)
            .key(&keys.seq)
            .key(&keys.stats)
            .key(&keys.wake)
            .arg(chunk.len());
        for (_, spec) in &chunk {
            let record = self.record_of(spec, enqueued_at_ms);
            let when = match spec.schedule {
                Schedule::Now => String::new(),
                Schedule::Delay(d) => format!("+{}", millis(d)),
                Schedule::At(t) => format!("@{}", unix_ms(t)),
            };
            let (unique_index, unique_ttl) = match &spec.unique {
                Some((key, ttl)) => {
                    // The script finds the key by its index in KEYS (1-based).
                    inv.key(keys.unique(key));
                    (inv.key_count(), millis(*ttl))
                }
                None => (0, 0),
            };
            inv.arg(record.priority.level())
                .arg(when)
                .arg(unique_index)
                .arg(unique_ttl)
                .arg(record.encode());
        }
        let op = format!("enqueue to queue {:?}", keys.queue);
        let reply = self.invoke(&inv, &op).await?;
        let r = Reply::of(&op);
        let mut locals = r.array(reply)?;
        if locals.len() == chunk.len() + 1 {
            // The queue started afresh (see enqueue.lua): list it again.
            let flag = locals.pop().map(|v| r.text(v)).transpose()?;
            if flag.as_deref() != Some("new") {
                return Err(BrokerError::reply(&op, format!("unknown flag {flag:?}")));
            }
            self.forget_registered(&keys.queue);
            self.register_queue(&keys.queue).await?;
        }
        if locals.len() != chunk.len() {
            return Err(BrokerError::reply(
                &op,
                format!("{} ids for {} tasks", locals.len(), chunk.len()),
            ));
        }
        let mut out = Vec::with_capacity(chunk.len());
        for ((index, _), local) in chunk.iter().zip(locals) {
            let local = r.text(local)?;
            let (local, duplicate) = match local.strip_prefix('=') {
                Some(existing) => (existing.to_owned(), true),
                None => (local, false),
            };
            if duplicate {
                debug!(queue = %keys.queue, %local, "unique key held: returning the existing task");
            }
            out.push((*index, TaskId::from_parts(&keys.queue, &local)));
        }
        metrics::counter!("wasmq_broker_enqueued_total", "queue" => keys.queue.clone())
            .increment(out.len() as u64);
        for at in due {
            self.mark_due_or_warn(&keys.queue, at).await;
        }
        Ok(out)
    }

    /// The stored record of `spec`, with the broker's default retries when
    /// the spec sets none.
    pub(crate) fn record_of(&self, spec: &TaskSpec, enqueued_at_ms: u64) -> TaskRecord {
        TaskRecord {
            priority: spec.priority,
            max_retries: spec
                .max_retries
                .unwrap_or(self.inner.opts.retry.max_retries),
            timeout_ms: spec.timeout.map(millis).unwrap_or(0),
            fuel: spec.fuel,
            enqueued_at_ms,
            payload: self.seal(crate::crypto::Field::Payload, &spec.queue, &spec.payload),
        }
    }

    pub(crate) fn validate(&self, spec: &TaskSpec, now: SystemTime) -> Result<(), ValidationError> {
        crate::error::validate_queue_name(&spec.queue)?;
        let limit = self.inner.opts.max_payload_bytes;
        if spec.payload.len() > limit {
            return Err(ValidationError::PayloadTooLarge {
                queue: spec.queue.clone(),
                size: spec.payload.len(),
                limit,
            });
        }
        self.check_sealable(spec)?;
        if let Some((key, _)) = &spec.unique
            && (key.is_empty() || key.len() > MAX_UNIQUE_KEY_LEN)
        {
            return Err(ValidationError::UniqueKey {
                queue: spec.queue.clone(),
                reason: format!("the key is {} bytes long", key.len()),
            });
        }
        spec.check_options(now)
    }
}
