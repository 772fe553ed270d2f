//! Errors of the broker.
//!
//! Redis failures keep the operation they interrupted, so a log line says
//! "lease from queue email" rather than just "broken pipe". Replies that do
//! not have the expected shape become [`BrokerError::Reply`] instead of a
//! panic: Redis data is never trusted to be well-formed.

use crate::error::ValidationError;
use thiserror::Error;

/// What can go wrong talking to the broker.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// Input refused before reaching Redis.
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// The Redis URL could not be used.
    #[error("invalid Redis URL {url:?}: {reason}")]
    Url {
        /// The URL with any password masked.
        url: String,
        /// What is wrong and how to write it.
        reason: String,
    },

    /// Redis could not be reached or answered with an error.
    #[error("Redis error during {op}: {source}")]
    Redis {
        /// The operation that failed, e.g. `lease from queue "email"`.
        op: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },

    /// A durable enqueue: the master accepted the tasks, but fewer
    /// replicas than asked confirmed them in time, so a failover now could
    /// lose them.
    #[error(
        "the master accepted {} task(s) ({}), but only {acked} of {wanted} replica(s) confirmed them \
         within {timeout:?}, so a failover could lose them; check the replicas \
         (INFO replication), or enqueue again with a unique key, which cannot duplicate them",
        ids.len(), shown_ids(ids)
    )]
    NotReplicated {
        /// The ids the master accepted.
        ids: Vec<crate::task::TaskId>,
        /// Replicas that confirmed.
        acked: u64,
        /// Replicas asked for.
        wanted: u32,
        /// How long the enqueue waited.
        timeout: std::time::Duration,
    },

    /// Redis answered with something the broker did not expect.
    #[error("unexpected reply from Redis during {op}: {detail}")]
    Reply {
        /// The operation.
        op: String,
        /// What was expected and what came.
        detail: String,
    },
}

/// The first few ids, for a message.
fn shown_ids(ids: &[crate::task::TaskId]) -> String {
    let mut shown: Vec<String> = ids.iter().take(3).map(ToString::to_string).collect();
    if ids.len() > 3 {
        shown.push(format!("and {} more", ids.len() - 3));
    }
    shown.join(", ")
}

impl BrokerError {
    /// Wraps a Redis error with the operation it interrupted.
    pub(crate) fn redis(op: impl Into<String>, source: redis::RedisError) -> Self {
        BrokerError::Redis {
            op: op.into(),
            source,
        }
    }

    /// A reply of the wrong shape.
    pub(crate) fn reply(op: impl Into<String>, detail: impl Into<String>) -> Self {
        BrokerError::Reply {
            op: op.into(),
            detail: detail.into(),
        }
    }

    /// True when the error is about the connection (Redis down, restarting,
    /// timing out) rather than about the request: retrying later may work.
    pub fn is_connection(&self) -> bool {
        match self {
            BrokerError::Redis { source, .. } => {
                source.is_io_error()
                    || source.is_connection_dropped()
                    || source.is_connection_refusal()
                    || source.is_timeout()
                    || source.is_unrecoverable_error()
                    || matches!(
                        source.kind(),
                        redis::ErrorKind::Server(
                            redis::ServerErrorKind::BusyLoading
                                | redis::ServerErrorKind::TryAgain
                                | redis::ServerErrorKind::ClusterDown
                                | redis::ServerErrorKind::MasterDown
                                | redis::ServerErrorKind::ReadOnly
                        )
                    )
            }
            _ => false,
        }
    }
}

/// Result alias of the broker.
pub type BrokerResult<T> = Result<T, BrokerError>;
