//! The host announcing itself: who it is, what it serves, how busy it is.
//!
//! Each beat rewrites the host's record with a TTL of three beats, so a host
//! that dies vanishes from `wasmq hosts` and the dashboard on its own within
//! seconds, while a host that misses one beat (a Redis blip) does not. A host
//! that stops cleanly removes its record at once.

use super::Shared;
use super::stats::redis_error;
use crate::broker::HostInfo;
use crate::plugins::Origin;
use crate::task::unix_ms;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Identity of this host process, fixed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Unique per process.
    pub host_id: String,
    /// The machine's hostname.
    pub hostname: String,
    /// When the process started (ms since the epoch).
    pub started_at_ms: u64,
}

impl Identity {
    /// A fresh identity for this process.
    pub fn new() -> Identity {
        let hostname = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        let short = uuid::Uuid::new_v4().simple().to_string();
        Identity {
            host_id: format!("{hostname}-{}-{}", std::process::id(), &short[..8]),
            hostname,
            started_at_ms: unix_ms(SystemTime::now()),
        }
    }
}

impl Default for Identity {
    fn default() -> Self {
        Self::new()
    }
}

/// The record one beat writes.
pub fn host_info(shared: &Shared) -> HostInfo {
    let report = shared.stats.report();
    HostInfo {
        host_id: shared.identity.host_id.clone(),
        hostname: shared.identity.hostname.clone(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at_ms: shared.identity.started_at_ms,
        plugins: shared
            .registry
            .entries()
            .into_iter()
            .filter_map(|e| {
                let version = e.version?;
                Some(match e.origin {
                    // The pushed number first: what `wasmq plugins history` lists.
                    Origin::Pushed { version: n } => format!("{}@v{n}:{version}", e.task_type),
                    Origin::Directory => format!("{}@{version}", e.task_type),
                })
            })
            .collect(),
        in_flight: shared.inflight.len() as u64,
        processed: report.processed(),
        last_seen_ms: 0,
    }
}

/// Beats every `every` until `stop`, then removes the record.
pub async fn beat(shared: Arc<Shared>, every: Duration, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if let Err(e) = shared
            .broker
            .heartbeat(&host_info(&shared), every * 3)
            .await
        {
            redis_error(&shared.stats, "heartbeat", &e);
        }
    }
    // Bounded: with Redis gone at shutdown, the record simply expires.
    let removal = shared.broker.remove_host(&shared.identity.host_id);
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(2), removal).await {
        redis_error(&shared.stats, "remove host record", &e);
    }
}
