//! Hearing about cancellations and completions as they happen.
//!
//! * `cancel.lua` flags an active task and PUBLISHes its id on `<ns>:cancel`;
//!   each host subscribes once and interrupts the task if it runs it.
//! * On Redis Cluster, the scripts that push a wake token into an empty wake
//!   list PUBLISH its name on `<ns>:wake`; each host's waiters share one
//!   subscription (`waiter/hub.rs`).
//! * `ack.lua` PUBLISHes the ids it completed on `<ns>:done`, one message per
//!   ack call (`<queue> <local id> ...`), when
//!   [`super::BrokerOptions::publish_completions`] is on: producers waiting
//!   for a result, and latency benchmarks, listen there instead of polling.
//!
//! A subscription uses RESP3 push messages on a dedicated connection that
//! resubscribes by itself after a reconnect: a `ConnectionManager` on a single
//! server, the cluster client's pub/sub on Cluster (classic `PUBLISH` reaches
//! every node of a cluster, so one subscription per process is enough). With
//! Sentinel the master can move, so the connection is a plain one whose end
//! ends the stream, and the caller subscribes again to the new master.
//!
//! Pub/sub is fire-and-forget: a message sent while the subscriber was
//! reconnecting is lost. For cancellations the flag stays, so the request is
//! never lost for good: a retry, release or lease expiry of a flagged task
//! turns into a cancellation, and a host can poll
//! [`Client::cancel_requested`] for its running tasks (for example each time
//! it extends their leases). For completions, [`Client::status`] is the
//! source of truth.
//!
//! A completion subscription holds at most [`MAX_BUFFERED`] ids that its
//! reader has not taken: a live view that falls behind (`wasmq tail` on a
//! busy system, a dashboard stream) skips the oldest, and counts them in
//! [`Subscription::missed`], instead of growing without bound.

use super::client::Client;
use super::conn::Target;
use super::error::{BrokerError, BrokerResult};
use crate::task::TaskId;
use futures::Stream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tracing::warn;

/// Ids of a completion subscription waiting for its reader, at most.
pub const MAX_BUFFERED: usize = 10_000;

/// A stream of task ids from one of the broker's channels, from
/// [`Client::cancel_subscription`] or [`Client::completion_subscription`].
pub struct Subscription {
    channel: String,
    kind: Kind,
    rx: UnboundedReceiver<PushInfo>,
    ready: VecDeque<TaskId>,
    /// Ids skipped because the reader fell behind.
    missed: u64,
    /// The connection does not reconnect: its end is the stream's end.
    ends_on_disconnect: bool,
    /// Set when a dedicated connection's end was seen while draining.
    ended: bool,
    // Held so the subscription stays open; dropped with the stream.
    _conn: SubscriptionConn,
}

/// The stream of cancellation requests for active tasks.
pub type CancelSubscription = Subscription;

/// What a subscription heard, for [`Subscription::next_heard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Heard {
    /// A message on the channel.
    Message(String),
    /// The connection (re)subscribed: what was published while it was
    /// down, or before, was missed.
    Subscribed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Message = one full task id.
    Cancel,
    /// Message = `<queue> <local id> <local id> ...`.
    Completion,
    /// Message = a task type whose pushed plugin changed, read with
    /// [`Subscription::next_notice`].
    Notice,
}

// Never read: the connection is held only so the subscription stays open.
#[allow(dead_code)]
enum SubscriptionConn {
    Single(ConnectionManager),
    Dedicated(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Subscribes to cancellation requests for active tasks of this
    /// namespace (all queues). The subscription survives reconnects.
    pub async fn cancel_subscription(&self) -> BrokerResult<Subscription> {
        let channel = self.inner.global.cancel_channel.clone();
        self.subscribe(channel, Kind::Cancel).await
    }

    /// Subscribes to completions of tasks of this namespace (all queues), as
    /// announced by acks when `publish_completions` is on (the default).
    pub async fn completion_subscription(&self) -> BrokerResult<Subscription> {
        let channel = self.inner.global.done_channel.clone();
        self.subscribe(channel, Kind::Completion).await
    }

    /// Subscribes to notices of plugin pushes and rollbacks (the task type
    /// of each), for [`Subscription::next_notice`].
    pub async fn plugin_subscription(&self) -> BrokerResult<Subscription> {
        let channel = super::plugin_store::notice_channel(&self.inner.opts.namespace);
        self.subscribe(channel, Kind::Notice).await
    }

    /// Streams the ids of tasks whose attempt failed (retried, dead or, if
    /// cancelled meanwhile, cancelled), as the retry and dead-letter scripts
    /// announce them on `<ns>:failed` (when [`BrokerOptions::publish_completions`]
    /// is on). Same delivery as [`Client::completion_subscription`]: at most
    /// once, for live views such as `wasmq tail`.
    ///
    /// [`BrokerOptions::publish_completions`]: super::BrokerOptions::publish_completions
    pub async fn failure_subscription(&self) -> BrokerResult<Subscription> {
        let channel = self.inner.global.failed_channel.clone();
        self.subscribe(channel, Kind::Completion).await
    }

    /// Subscribes to the wake notices of this namespace (Cluster only: see
    /// `waiter/hub.rs`), for [`Subscription::next_heard`].
    pub(crate) async fn wake_subscription(&self) -> BrokerResult<Subscription> {
        let channel = self.inner.global.wake_channel.clone();
        self.subscribe(channel, Kind::Notice).await
    }

    async fn subscribe(&self, channel: String, kind: Kind) -> BrokerResult<Subscription> {
        let op = format!("subscribe to {channel}");
        let fail = |e| BrokerError::redis(&op, e);
        let (tx, rx) = unbounded_channel();
        let infos = self.inner.target.resp3_infos().await.map_err(fail)?;
        let conn = match &self.inner.target {
            // The master can move: a plain connection that ends the stream
            // when it drops, so the caller subscribes again, to the master
            // the sentinels name then.
            Target::Sentinel(_) => {
                let info = infos
                    .into_iter()
                    .next()
                    .ok_or_else(|| BrokerError::reply(&op, "no connection info"))?;
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
                    .set_push_sender(tx);
                let mut conn = redis::Client::open(info)
                    .map_err(fail)?
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(fail)?;
                conn.subscribe(&channel).await.map_err(fail)?;
                SubscriptionConn::Dedicated(conn)
            }
            Target::Single(_) => {
                let info = infos
                    .into_iter()
                    .next()
                    .ok_or_else(|| BrokerError::reply(&op, "no connection info"))?;
                let client = redis::Client::open(info).map_err(fail)?;
                let config = ConnectionManagerConfig::new()
                    .set_push_sender(tx)
                    .set_automatic_resubscription()
                    .set_max_delay(std::time::Duration::from_secs(2));
                let mut manager = client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(fail)?;
                manager.subscribe(&channel).await.map_err(fail)?;
                SubscriptionConn::Single(manager)
            }
            Target::Cluster(_) => {
                let client = ClusterClientBuilder::new(infos)
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(tx)
                    .build()
                    .map_err(fail)?;
                let mut conn = client.get_async_connection().await.map_err(fail)?;
                conn.subscribe(&channel).await.map_err(fail)?;
                SubscriptionConn::Cluster(conn)
            }
        };
        Ok(Subscription {
            channel,
            kind,
            rx,
            ready: VecDeque::new(),
            missed: 0,
            ended: false,
            ends_on_disconnect: matches!(conn, SubscriptionConn::Dedicated(_)),
            _conn: conn,
        })
    }
}

impl Subscription {
    /// The next task id; `None` once the connection is gone for good.
    pub async fn next(&mut self) -> Option<TaskId> {
        std::future::poll_fn(|cx| self.poll_id(cx)).await
    }

    /// The next message of a notice subscription, as sent; `None` once the
    /// connection is gone for good.
    pub async fn next_notice(&mut self) -> Option<String> {
        loop {
            let push = self.rx.recv().await?;
            if push.kind == PushKind::Disconnection && self.ends_on_disconnect {
                return None;
            }
            if let Some(payload) = self.payload(push) {
                return Some(payload);
            }
        }
    }

    /// The next message, or news that the connection (re)subscribed; `None`
    /// once the connection is gone for good.
    pub(crate) async fn next_heard(&mut self) -> Option<Heard> {
        loop {
            let push = self.rx.recv().await?;
            match push.kind {
                PushKind::Disconnection if self.ends_on_disconnect => return None,
                PushKind::Subscribe => return Some(Heard::Subscribed),
                _ => {}
            }
            if let Some(payload) = self.payload(push) {
                return Some(Heard::Message(payload));
            }
        }
    }

    /// How many ids were skipped because the reader fell behind by more
    /// than [`MAX_BUFFERED`].
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Drops every id already received, for a reader that only needs to
    /// know that something happened (the dashboard's live chart). Returns
    /// how many were dropped.
    pub fn skip_ready(&mut self) -> usize {
        self.drain();
        let n = self.ready.len();
        self.ready.clear();
        n
    }

    /// Moves every push already received into `ready`, without waiting, so
    /// the channel behind it stays empty whatever the reader's pace.
    fn drain(&mut self) {
        while !self.ended {
            let Ok(push) = self.rx.try_recv() else { return };
            self.take(push);
        }
    }

    /// Files one push, or notes the end of the stream.
    fn take(&mut self, push: PushInfo) {
        // Only a dedicated (Sentinel) connection reports its own end;
        // the others reconnect and resubscribe by themselves.
        if push.kind == PushKind::Disconnection && self.ends_on_disconnect {
            self.ended = true;
            return;
        }
        if let Some(payload) = self.payload(push) {
            self.parse(&payload);
        }
    }

    fn poll_id(&mut self, cx: &mut Context<'_>) -> Poll<Option<TaskId>> {
        loop {
            self.drain();
            if let Some(id) = self.ready.pop_front() {
                return Poll::Ready(Some(id));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            let Some(push) = std::task::ready!(self.rx.poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            self.take(push);
        }
    }

    /// The text of a message on our channel.
    fn payload(&self, push: PushInfo) -> Option<String> {
        if push.kind != PushKind::Message {
            return None;
        }
        let mut data = push.data.into_iter();
        let channel = text(data.next()?)?;
        (channel == self.channel)
            .then(|| text(data.next()?))
            .flatten()
    }

    fn parse(&mut self, payload: &str) {
        match self.kind {
            Kind::Cancel => match payload.parse() {
                Ok(id) => self.ready.push_back(id),
                Err(e) => warn!(%payload, error = %e, "ignored a malformed cancellation message"),
            },
            // Read whole by `next_notice`; there is no task id in them.
            Kind::Notice => {}
            Kind::Completion => {
                let mut words = payload.split(' ');
                let queue = words.next().unwrap_or_default();
                for local in words {
                    match TaskId::new(queue, local) {
                        Ok(id) => self.push_bounded(id),
                        Err(e) => {
                            warn!(%payload, error = %e, "ignored a malformed completion message")
                        }
                    }
                }
            }
        }
    }
}

impl Subscription {
    /// Queues a completion id, skipping the oldest past [`MAX_BUFFERED`].
    fn push_bounded(&mut self, id: TaskId) {
        if self.ready.len() >= MAX_BUFFERED {
            self.ready.pop_front();
            self.missed += 1;
        }
        self.ready.push_back(id);
    }
}

impl Stream for Subscription {
    type Item = TaskId;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TaskId>> {
        self.get_mut().poll_id(cx)
    }
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        Value::VerbatimString { text, .. } => Some(text),
        _ => None,
    }
}
