//! The [`Client`] handle: its connection, scripts, keys and queue registry
//! (enqueueing is in `enqueue.rs`).
//!
//! One `Client` holds one shared, reconnecting connection; clones are cheap
//! and share it, so a producer or a host creates one and hands clones around.

use super::clock::RedisClock;
use super::conn::{Conn, Target};
use super::error::{BrokerError, BrokerResult};
use super::keys::{GlobalKeys, QueueKeys};
use super::options::BrokerOptions;
use super::redact::mask_password;
use super::scripts::SCRIPTS;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tracing::warn;

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
    pub durable: tokio::sync::OnceCell<Client>,
    /// The wake subscription its waiters share on Cluster (`waiter/hub.rs`).
    pub wake_hub: Mutex<std::sync::Weak<super::waiter::WakeHub>>,
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
    pub(crate) async fn open_target(
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
                wake_hub: Mutex::new(std::sync::Weak::new()),
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
}
