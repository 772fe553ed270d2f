//! The [`Client`] handle and enqueueing.
//!
//! One `Client` holds one shared, reconnecting connection; clones are cheap
//! and share it, so a producer or a host creates one and hands clones around.
//! Batch enqueues are split per queue into chunks of
//! [`BrokerOptions::enqueue_chunk`] tasks, one script call per chunk, and the
//! chunks are sent concurrently so they pipeline on the connection (and fan
//! out to the right nodes on Cluster).

use super::clock::RedisClock;
use super::conn::{Conn, Target};
use super::due::DueAt;
use super::error::{BrokerError, BrokerResult};
use super::keys::{GlobalKeys, QueueKeys};
use super::options::{BrokerOptions, millis};
use super::redact::mask_password;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::error::{MAX_UNIQUE_KEY_LEN, ValidationError};
use crate::task::{Schedule, TaskId, TaskRecord, TaskSpec, unix_ms};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tracing::{debug, instrument, warn};

/// Chunks of one batch enqueue in flight at once.
const ENQUEUE_CONCURRENCY: usize = 8;

/// Least time between two rebuilds of a stuck cluster connection.
const REBUILD_PAUSE: Duration = Duration::from_secs(2);

/// A handle on the broker: enqueue, inspect and administer queues, and (for
/// hosts) lease and settle tasks. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub target: Target,
    conn: RwLock<Conn>,
    rebuilding: AtomicBool,
    pub opts: BrokerOptions,
    pub clock: RedisClock,
    pub global: GlobalKeys,
    keys: Mutex<HashMap<String, Arc<QueueKeys>>>,
    registered: Mutex<HashSet<String>>,
    /// The client durable enqueues go through (see `wait_for_replicas`).
    durable: tokio::sync::OnceCell<Client>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespace", &self.inner.opts.namespace)
            .field("cluster", &self.inner.target.is_cluster())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to Redis at `url` (see [`crate::broker`] for the URL
    /// convention), loads the scripts and reads Redis's clock.
    pub async fn connect(url: &str, opts: BrokerOptions) -> BrokerResult<Self> {
        Self::open(url, opts, 0).await
    }

    /// [`Client::connect`] on a host whose clock is `skew_ms` off. Only for
    /// tests that show what a host clock can and cannot break.
    #[doc(hidden)]
    pub async fn connect_with_skewed_clock(
        url: &str,
        opts: BrokerOptions,
        skew_ms: i64,
    ) -> BrokerResult<Self> {
        Self::open(url, opts, skew_ms).await
    }

    async fn open(url: &str, opts: BrokerOptions, skew_ms: i64) -> BrokerResult<Self> {
        opts.validate()?;
        let target = Target::parse(url)?;
        Self::open_target(target, opts, skew_ms, &mask_password(url)).await
    }

    /// Connects to `target`, loads the scripts and syncs the clock; `shown`
    /// is the URL (password masked) for messages.
    async fn open_target(
        target: Target,
        opts: BrokerOptions,
        skew_ms: i64,
        shown: &str,
    ) -> BrokerResult<Self> {
        let conn = target
            .connect(opts.response_timeout)
            .await
            .map_err(|e| BrokerError::redis(format!("connect to {shown}"), e))?;
        let client = Self {
            inner: Arc::new(Inner {
                global: GlobalKeys::new(&opts.namespace)?,
                target,
                conn: RwLock::new(conn),
                rebuilding: AtomicBool::new(false),
                opts,
                clock: RedisClock::new(skew_ms),
                keys: Mutex::new(HashMap::new()),
                registered: Mutex::new(HashSet::new()),
                durable: tokio::sync::OnceCell::new(),
            }),
        };
        client.load_scripts().await?;
        client.sync_clock().await?;
        Ok(client)
    }

    /// The options this client was connected with.
    pub fn options(&self) -> &BrokerOptions {
        &self.inner.opts
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.target.is_cluster()
    }

    /// Loads every script (on every primary, on Cluster), so the first calls
    /// need no NOSCRIPT round trip. Scripts still reload themselves if Redis
    /// forgets them later.
    pub async fn load_scripts(&self) -> BrokerResult<()> {
        let mut conn = self.conn();
        for script in SCRIPTS.all() {
            script
                .script()
                .load_async(&mut conn)
                .await
                .map_err(|e| self.fail("load Lua scripts", e))?;
        }
        Ok(())
    }

    /// A handle on the shared connection.
    pub(crate) fn conn(&self) -> Conn {
        self.inner
            .conn
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wraps a Redis error with its operation, and starts rebuilding the
    /// connection if the cluster client lost every node or, with Sentinel,
    /// the master died or was demoted (a failover), so that the next calls
    /// go to the master the sentinels name now.
    ///
    /// After a whole cluster restarts, redis-rs's cluster client can end up
    /// with an empty connection map and keep refreshing slots over it,
    /// failing with `ClusterConnectionNotFound` forever. A fresh client from
    /// the seed nodes recovers, so the broker builds one (at most every
    /// [`REBUILD_PAUSE`]) and swaps it in.
    pub(crate) fn fail(&self, op: impl Into<String>, e: redis::RedisError) -> BrokerError {
        let lost = match &self.inner.target {
            Target::Cluster(_) => e.kind() == redis::ErrorKind::ClusterConnectionNotFound,
            // The master died (refused, dropped, silent) or was demoted.
            Target::Sentinel(_) => {
                e.is_io_error()
                    || e.is_connection_refusal()
                    || e.is_connection_dropped()
                    || e.is_timeout()
                    || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
            }
            Target::Single(_) => false,
        };
        if lost
            && !self.inner.rebuilding.swap(true, Ordering::SeqCst)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let client = self.clone();
            runtime.spawn(async move {
                let inner = &client.inner;
                match inner.target.connect(inner.opts.response_timeout).await {
                    Ok(conn) => {
                        *inner.conn.write().unwrap_or_else(|p| p.into_inner()) = conn;
                        if inner.target.is_sentinel() {
                            // Scripts are per server: the new master may lack them.
                            if let Err(e) = client.load_scripts().await {
                                warn!(error = %e, "loading scripts on the new master failed; they load on first use");
                            }
                            metrics::counter!("wasmq_broker_sentinel_reconnects_total").increment(1);
                            warn!("reconnected to the master the sentinels name now");
                        } else {
                            metrics::counter!("wasmq_broker_cluster_rebuilds_total").increment(1);
                            warn!("rebuilt the Redis Cluster connection from the seed nodes");
                        }
                    }
                    Err(e) => warn!(error = %e, "rebuilding the Redis connection failed"),
                }
                tokio::time::sleep(REBUILD_PAUSE).await;
                inner.rebuilding.store(false, Ordering::SeqCst);
            });
        }
        BrokerError::redis(op, e)
    }

    /// The keys of `queue`, validated once and cached.
    pub(crate) fn keys(&self, queue: &str) -> BrokerResult<Arc<QueueKeys>> {
        let mut cache = self.inner.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(keys) = cache.get(queue) {
            return Ok(keys.clone());
        }
        let keys = Arc::new(QueueKeys::new(&self.inner.opts.namespace, queue)?);
        cache.insert(queue.to_owned(), keys.clone());
        Ok(keys)
    }

    /// Adds `queue` to the namespace's set of queues (once per client).
    pub(crate) async fn register_queue(&self, queue: &str) -> BrokerResult<()> {
        let known = {
            let set = self
                .inner
                .registered
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            set.contains(queue)
        };
        if known {
            return Ok(());
        }
        redis::cmd("SADD")
            .arg(&self.inner.global.queues)
            .arg(queue)
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("register queue {queue:?}"), e))?;
        self.inner
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(queue.to_owned());
        Ok(())
    }

    /// Makes the next [`Client::register_queue`] of `queue` add it again:
    /// the queue was removed, or the enqueue script saw it start afresh.
    pub(crate) fn forget_registered(&self, queue: &str) {
        self.inner
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(queue);
    }

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
        inv.key(&keys.tasks)
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
