//! Hearing about cancellations of running tasks.
//!
//! `cancel.lua` flags an active task and PUBLISHes its id on `<ns>:cancel`.
//! Each host subscribes once and interrupts the task if it runs it. The
//! subscription uses RESP3 push messages on a dedicated connection that
//! resubscribes by itself after a reconnect: a `ConnectionManager` on a single
//! server, the cluster client's pub/sub on Cluster (classic `PUBLISH` reaches
//! every node of a cluster, so one subscription per host is enough).
//!
//! Pub/sub is fire-and-forget: a message sent while the host was reconnecting
//! is lost. The flag stays, though, so it is never lost for good: a retry,
//! release or lease expiry of a flagged task turns into a cancellation, and a
//! host can poll [`Client::cancel_requested`] for its running tasks (for
//! example each time it extends their leases) as a fallback.

use super::client::Client;
use super::conn::Target;
use super::error::{BrokerError, BrokerResult};
use crate::task::TaskId;
use futures::Stream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{ProtocolVersion, PushInfo, PushKind, Value};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tracing::warn;

/// A stream of ids of active tasks whose cancellation was requested, from
/// [`Client::cancel_subscription`].
pub struct CancelSubscription {
    channel: String,
    rx: UnboundedReceiver<PushInfo>,
    // Held so the subscription stays open; dropped with the stream.
    _conn: SubscriptionConn,
}

// Never read: the connection is held only so the subscription stays open.
#[allow(dead_code)]
enum SubscriptionConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for CancelSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelSubscription")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Subscribes to cancellation requests for active tasks of this
    /// namespace (all queues). The subscription survives reconnects.
    pub async fn cancel_subscription(&self) -> BrokerResult<CancelSubscription> {
        let channel = self.inner.global.cancel_channel.clone();
        let op = "subscribe to cancellations";
        let (tx, rx) = unbounded_channel();
        let infos = self.inner.target.resp3_infos();
        let conn = match &self.inner.target {
            Target::Single(_) => {
                let info = infos
                    .into_iter()
                    .next()
                    .ok_or_else(|| BrokerError::reply(op, "no connection info"))?;
                let client = redis::Client::open(info).map_err(|e| BrokerError::redis(op, e))?;
                let config = ConnectionManagerConfig::new()
                    .set_push_sender(tx)
                    .set_automatic_resubscription()
                    .set_max_delay(std::time::Duration::from_secs(2));
                let mut manager = client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(|e| BrokerError::redis(op, e))?;
                manager
                    .subscribe(&channel)
                    .await
                    .map_err(|e| BrokerError::redis(op, e))?;
                SubscriptionConn::Single(manager)
            }
            Target::Cluster(_) => {
                let client = ClusterClientBuilder::new(infos)
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(tx)
                    .build()
                    .map_err(|e| BrokerError::redis(op, e))?;
                let mut conn = client
                    .get_async_connection()
                    .await
                    .map_err(|e| BrokerError::redis(op, e))?;
                conn.subscribe(&channel)
                    .await
                    .map_err(|e| BrokerError::redis(op, e))?;
                SubscriptionConn::Cluster(conn)
            }
        };
        Ok(CancelSubscription {
            channel,
            rx,
            _conn: conn,
        })
    }
}

impl CancelSubscription {
    /// The next cancelled task id; `None` once the connection is gone for good.
    pub async fn next(&mut self) -> Option<TaskId> {
        std::future::poll_fn(|cx| self.poll_id(cx)).await
    }

    fn poll_id(&mut self, cx: &mut Context<'_>) -> Poll<Option<TaskId>> {
        loop {
            let Some(push) = std::task::ready!(self.rx.poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            if let Some(id) = self.task_id(push) {
                return Poll::Ready(Some(id));
            }
        }
    }

    fn task_id(&self, push: PushInfo) -> Option<TaskId> {
        if push.kind != PushKind::Message {
            return None;
        }
        let mut data = push.data.into_iter();
        let channel = text(data.next()?)?;
        if channel != self.channel {
            return None;
        }
        let payload = text(data.next()?)?;
        match payload.parse() {
            Ok(id) => Some(id),
            Err(e) => {
                warn!(%payload, error = %e, "ignored a malformed cancellation message");
                None
            }
        }
    }
}

impl Stream for CancelSubscription {
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
