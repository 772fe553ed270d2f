//! Blocking until work arrives, without polling Redis.
//!
//! Every path that makes tasks pending (enqueue, promote, reap, release,
//! re-drive) leaves one token in the queue's `wake` list if it is empty, and
//! a lease that leaves work behind leaves one too, so idle consumers wake in
//! a chain; a lease that leaves none drops the token, which would only wake
//! a consumer for nothing. The token is the hand-off: whoever takes it
//! looks, so one push wakes one consumer, not all of them. A spurious token
//! costs one empty lease. A host's leaser does not look at a queue it found
//! empty until that queue's token comes (`worker/wake.rs`), so a token taken
//! and not used is put back: by its host (`Client::rewake`), or, if the host
//! died holding it, by maintenance's next visit of the queue.
//!
//! On a single server (and the master Sentinel names) an idle consumer
//! blocks on one multi-key `BLPOP` of its queues' wake lists: Redis parks it
//! at no cost and hands it the token within a millisecond of the push.
//!
//! On Cluster that cannot work: each queue's wake list lives in its own
//! slot, a multi-key `BLPOP` across slots is refused, and one `BLPOP` per
//! queue holds one connection per queue and host (a thousand queues, a
//! thousand connections per host). Nor can one list per node stand in: a
//! queue's slot can move. So on Cluster a push into an empty wake list is
//! also announced: the script `PUBLISH`es the list's name on `<ns>:wake`
//! (prelude.lua's `wake`; a standalone or Sentinel client passes no channel
//! and pays nothing). Classic `PUBLISH` reaches every node, so one
//! subscription per client hears every queue, over one connection per node
//! (`waiter/hub.rs`), and the notice goes to the waiters of that list in
//! the process. A waiter woken so takes the token with a non-blocking
//! `LPOP`: the list is empty again, so the next push is announced again,
//! and when several hosts heard the notice exactly one gets the token; the
//! others wait on. Announcing only the empty-to-token push keeps the cost
//! off a busy queue, whose list holds a token while nobody idles.
//!
//! A notice is fire-and-forget: one sent while the subscription was down,
//! or before a waiter listened for that list, is lost, and the token then
//! sits in its list where no further push is announced. So each
//! (re)subscription, and a waiter's first listen for a list, make the
//! waiter look at each of those lists once (an `LPOP`, as `BLPOP` would on
//! blocking); a lease that empties a queue drops the token too. While the
//! subscription is down, [`Waiter::hears_everything`] is false, and the
//! leaser looks at every queue after each wait instead.

use super::client::Client;
use super::conn::Conn;
use super::error::{BrokerError, BrokerResult};
use super::reply::Reply;
pub(crate) use hub::WakeHub;
use hub::{Listener, MAX_TRACKED};
use redis::Value;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

mod hub;

/// Shortest blocking wait Redis accepts with millisecond precision.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// How long past its own timeout a BLPOP may stay unanswered before its
/// connection is presumed dead (server gone without a reset) and dropped.
const GRACE: Duration = Duration::from_secs(2);

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
/// [`Client::waiter`]. Not shared: it owns its blocking connection (on
/// Cluster, its place among the client's listeners for wake notices).
pub struct Waiter {
    client: Client,
    single: Option<Conn>,
    listener: Option<Listener>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("cluster", &self.client.is_cluster())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A waiter with its own blocking connection, opened lazily (on
    /// Cluster, none: it shares the client's wake subscription).
    pub fn waiter(&self) -> Waiter {
        Waiter {
            client: self.clone(),
            single: None,
            listener: None,
        }
    }

    /// The channel the scripts that may wake announce a wake on (their
    /// `ARGV[1]`): `<ns>:wake` on Cluster, where waiters listen there;
    /// empty elsewhere, where they block on the lists and nothing is
    /// announced.
    pub(crate) fn wake_channel(&self) -> &str {
        match self.is_cluster() {
            true => &self.inner.global.wake_channel,
            false => "",
        }
    }
}

impl Waiter {
    /// Whether a wait that ends with `None` means that no token came for its
    /// queues: true on a single server, where `BLPOP` sees every token, and
    /// on Cluster while the wake subscription is up. False while notices may
    /// be missed, when a caller should look at its queues itself.
    pub fn hears_everything(&self) -> bool {
        match &self.listener {
            Some(listener) => listener.hub_hears(),
            None => !self.client.is_cluster(),
        }
    }

    /// The most queues one wait listens for; a wait on more listens for the
    /// first this many, and the caller must look at the others itself.
    pub fn max_queues(&self) -> usize {
        match self.client.is_cluster() {
            true => MAX_TRACKED,
            false => usize::MAX,
        }
    }

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

    /// Waits for a notice for one of `queues` (their first [`MAX_TRACKED`];
    /// the others wait for the timeout), then takes that queue's token.
    async fn wait_cluster(
        &mut self,
        queues: &[&str],
        timeout: Duration,
    ) -> BrokerResult<Option<String>> {
        let deadline = Instant::now() + timeout;
        let mut wanted = HashMap::with_capacity(queues.len().min(MAX_TRACKED));
        for q in queues.iter().take(MAX_TRACKED) {
            wanted.insert(self.client.keys(q)?.wake.clone(), *q);
        }
        let listener = match &self.listener {
            Some(listener) => listener,
            None => self.listener.insert(self.client.wake_hub().listen()),
        };
        listener.track(wanted.keys());
        loop {
            let mut heard = listener.take_heard(&wanted).into_iter();
            while let Some(list) = heard.next() {
                // Every look is bounded: past the deadline the rest of the
                // marks wait for the next call.
                if Instant::now() >= deadline {
                    listener.put_back(std::iter::once(list).chain(heard));
                    return Ok(None);
                }
                match take_token(&self.client, &list).await {
                    Ok(false) => {
                        metrics::counter!("wasmq_wake_races_lost_total").increment(1);
                    }
                    Ok(true) => {
                        metrics::counter!("wasmq_wake_tokens_taken_total").increment(1);
                        listener.put_back(heard);
                        return Ok(wanted.get(&list).map(|q| (*q).to_owned()));
                    }
                    Err(e) => {
                        listener.put_back(std::iter::once(list).chain(heard));
                        return Err(e);
                    }
                }
            }
            if tokio::time::timeout_at(deadline, listener.notified())
                .await
                .is_err()
            {
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

/// Takes the token of a wake list, if it still holds one (another host, or
/// a lease that emptied the queue, may have taken it first).
async fn take_token(client: &Client, list: &str) -> BrokerResult<bool> {
    let token: Option<String> = redis::cmd("LPOP")
        .arg(list)
        .query_async(&mut client.conn())
        .await
        .map_err(|e| client.fail("take a wake token (LPOP)", e))?;
    Ok(token.is_some())
}
