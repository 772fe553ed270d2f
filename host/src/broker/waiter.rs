//! Blocking until work arrives, without polling Redis.
//!
//! Every path that makes tasks pending (enqueue, promote, reap, release,
//! re-drive) leaves one token in the queue's `wake` list if it is empty, and
//! a lease that leaves work behind leaves one too, so idle consumers wake in
//! a chain. An idle consumer blocks on `BLPOP` of the wake lists: Redis parks
//! it at no cost and hands it the token within a millisecond of the push.
//! A spurious token costs one empty lease; a lost one (a host killed while
//! holding it) costs at most one wait timeout, after which consumers look
//! anyway.
//!
//! `BLPOP` blocks its connection, so a [`Waiter`] owns dedicated ones. On a
//! single server one `BLPOP` covers all queues. On Cluster the wake lists live
//! in different slots, and a multi-key `BLPOP` across slots is refused, so the
//! waiter keeps one blocking call per queue in flight, each on its own
//! connection, and returns when the first answers; the others stay in flight
//! for the next wait, so no token is dropped.

use super::client::Client;
use super::conn::Conn;
use super::error::{BrokerError, BrokerResult};
use super::reply::Reply;
use redis::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Shortest blocking wait Redis accepts with millisecond precision.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// How long past its own timeout a BLPOP may stay unanswered before its
/// connection is presumed dead (server gone without a reset, or a cluster
/// client still retrying against a node that restarted) and dropped.
const GRACE: Duration = Duration::from_secs(2);

/// A blocking call in flight; gives its connection back unless it failed.
type Blpop = JoinHandle<(Option<Conn>, redis::RedisResult<Value>)>;

/// Runs BLPOP with a hard deadline; the connection is kept only on success.
async fn blpop(
    mut conn: Conn,
    keys: Vec<String>,
    timeout: Duration,
) -> (Option<Conn>, redis::RedisResult<Value>) {
    let mut cmd = redis::cmd("BLPOP");
    cmd.arg(&keys).arg(timeout.as_secs_f64());
    let call = cmd.query_async::<Value>(&mut conn);
    match tokio::time::timeout(timeout + GRACE, call).await {
        Ok(Ok(reply)) => (Some(conn), Ok(reply)),
        Ok(Err(e)) => (None, Err(e)),
        Err(_) => {
            let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "BLPOP overran its timeout");
            (None, Err(e.into()))
        }
    }
}

/// Waits for work on a set of queues; create one per consumer loop with
/// [`Client::waiter`]. Not shared: it owns its blocking connections.
pub struct Waiter {
    client: Client,
    single: Option<Conn>,
    idle: HashMap<String, Conn>,
    in_flight: HashMap<String, Blpop>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("in_flight", &self.in_flight.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        for handle in self.in_flight.values() {
            handle.abort();
        }
    }
}

impl Client {
    /// A waiter with its own blocking connection(s), opened lazily.
    pub fn waiter(&self) -> Waiter {
        Waiter {
            client: self.clone(),
            single: None,
            idle: HashMap::new(),
            in_flight: HashMap::new(),
        }
    }
}

impl Waiter {
    /// Blocks until one of `queues` has been signalled or `timeout` passes.
    /// Returns the queue that was signalled, or `None` on timeout. Either way
    /// the caller should then try to lease.
    pub async fn wait_for_work(
        &mut self,
        queues: &[&str],
        timeout: Duration,
    ) -> BrokerResult<Option<String>> {
        if queues.is_empty() {
            tokio::time::sleep(timeout).await;
            return Ok(None);
        }
        let timeout = timeout.max(MIN_WAIT);
        if self.client.is_cluster() {
            self.wait_cluster(queues, timeout).await
        } else {
            self.wait_single(queues, timeout).await
        }
    }

    async fn wait_single(
        &mut self,
        queues: &[&str],
        timeout: Duration,
    ) -> BrokerResult<Option<String>> {
        let mut wake_keys = Vec::with_capacity(queues.len());
        for q in queues {
            wake_keys.push(self.client.keys(q)?.wake.clone());
        }
        // Taken out while blocked: if this future is dropped mid-wait, the
        // connection goes with it (and Redis drops the blocked BLPOP).
        let conn = match self.single.take() {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let (conn, reply) = blpop(conn, wake_keys.clone(), timeout).await;
        self.single = conn;
        let reply = reply.map_err(|e| BrokerError::redis("wait for work (BLPOP)", e))?;
        self.woken_queue(reply, &wake_keys, queues)
    }

    async fn wait_cluster(
        &mut self,
        queues: &[&str],
        timeout: Duration,
    ) -> BrokerResult<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            for q in queues {
                if !self.in_flight.contains_key(*q) {
                    let wake = self.client.keys(q)?.wake.clone();
                    let conn = match self.idle.remove(*q) {
                        Some(conn) => conn,
                        None => self.connect().await?,
                    };
                    let handle = tokio::spawn(blpop(conn, vec![wake], timeout));
                    self.in_flight.insert((*q).to_owned(), handle);
                }
            }
            let names: Vec<String> = queues.iter().map(|q| (*q).to_owned()).collect();
            // Both walks see the map unchanged, so they agree on the order.
            let order: Vec<String> = self
                .in_flight
                .keys()
                .filter(|q| names.contains(q))
                .cloned()
                .collect();
            let handles: Vec<&mut Blpop> = self
                .in_flight
                .iter_mut()
                .filter(|(q, _)| names.contains(q))
                .map(|(_, h)| h)
                .collect();
            let first = futures::future::select_all(handles);
            let Ok((joined, index, _)) = tokio::time::timeout_at(deadline, first).await else {
                return Ok(None);
            };
            let queue = order.get(index).cloned().unwrap_or_default();
            self.in_flight.remove(&queue);
            let (conn, reply) = joined.map_err(|e| {
                BrokerError::reply("wait for work (BLPOP)", format!("waiting task failed: {e}"))
            })?;
            // A connection that failed is dropped; the next wait opens another.
            if let Some(conn) = conn {
                self.idle.insert(queue.clone(), conn);
            }
            let reply = reply.map_err(|e| BrokerError::redis("wait for work (BLPOP)", e))?;
            if !matches!(reply, Value::Nil) {
                return Ok(Some(queue));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn connect(&self) -> BrokerResult<Conn> {
        self.client
            .inner
            .target
            .connect_blocking()
            .await
            .map_err(|e| BrokerError::redis("open a blocking connection", e))
    }

    fn woken_queue(
        &self,
        reply: Value,
        wake_keys: &[String],
        queues: &[&str],
    ) -> BrokerResult<Option<String>> {
        let r = Reply::of("wait for work (BLPOP)");
        let items = r.array(reply)?;
        let Some(key) = items.into_iter().next() else {
            return Ok(None);
        };
        let key = r.text(key)?;
        Ok(wake_keys
            .iter()
            .position(|k| *k == key)
            .and_then(|i| queues.get(i))
            .map(|q| (*q).to_owned()))
    }
}
