//! The host registry: who is running, with what, and how busy.
//!
//! Each host writes its [`HostInfo`] as JSON under its own key with an expiry
//! a few heartbeats long, and stamps an index sorted set. A host that dies
//! simply stops refreshing: its key expires and [`Client::hosts`] drops it
//! from the index, and marks every queue due so the leases it held are
//! reaped on the next maintenance tick (`due.rs`). Both keys share the `{hosts}` hash tag, so one pipeline
//! (and one MGET) serves them on Cluster too.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::options::millis;
use crate::task::unix_ms;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use tracing::warn;

/// What a host says about itself in each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Unique per process (for example a UUID).
    pub host_id: String,
    /// The machine's hostname.
    pub hostname: String,
    /// The process id.
    pub pid: u32,
    /// The wasmq version.
    pub version: String,
    /// When the process started, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// Loaded plugins, as `name@version`.
    pub plugins: Vec<String>,
    /// Tasks running now.
    pub in_flight: u64,
    /// Tasks finished since start.
    pub processed: u64,
    /// When this heartbeat was sent (set by [`Client::heartbeat`]).
    #[serde(default)]
    pub last_seen_ms: u64,
}

impl HostInfo {
    /// True if this host has a plugin for task type (queue) `queue`: an
    /// entry `queue@<version>` (or just `queue`) in [`HostInfo::plugins`].
    pub fn serves(&self, queue: &str) -> bool {
        self.plugins.iter().any(|entry| {
            entry
                .split_once('@')
                .map_or(entry.as_str(), |(name, _)| name)
                == queue
        })
    }
}

impl Client {
    /// Records a heartbeat that keeps `host` listed for `ttl`. Send one
    /// every `ttl / 3` or so.
    pub async fn heartbeat(&self, host: &HostInfo, ttl: Duration) -> BrokerResult<()> {
        let global = &self.inner.global;
        let mut host = host.clone();
        host.last_seen_ms = unix_ms(SystemTime::now());
        let json = serde_json::to_string(&host)
            .map_err(|e| BrokerError::reply("heartbeat", e.to_string()))?;
        redis::pipe()
            .cmd("SET")
            .arg(global.host(&host.host_id))
            .arg(json)
            .arg("PX")
            .arg(millis(ttl).max(1))
            .ignore()
            .zadd(&global.host_index, &host.host_id, host.last_seen_ms)
            .ignore()
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("heartbeat", e))
    }

    /// Hosts whose heartbeat has not expired, sorted by id.
    pub async fn hosts(&self) -> BrokerResult<Vec<HostInfo>> {
        let global = &self.inner.global;
        let mut conn = self.conn();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(&global.host_index)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.fail("list hosts", e))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| global.host(id)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.fail("list hosts", e))?;
        let mut hosts = Vec::new();
        let mut gone = Vec::new();
        for (id, value) in ids.into_iter().zip(values) {
            match value.map(|v| serde_json::from_str::<HostInfo>(&v)) {
                Some(Ok(info)) => hosts.push(info),
                Some(Err(e)) => warn!(host_id = %id, error = %e, "ignored a malformed heartbeat"),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let forgotten: u64 = redis::cmd("ZREM")
                .arg(&global.host_index)
                .arg(&gone)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.fail("forget expired hosts", e))?;
            // Whoever forgets a dead host sweeps the due indexes, so the
            // leases it held are reaped even if it died before indexing
            // them (due.rs). ZREM counts once, whoever races.
            if forgotten > 0 {
                warn!(hosts = ?gone, "hosts stopped heartbeating; marking every queue due");
                if let Err(e) = self.mark_all_due().await {
                    warn!(error = %e, "could not mark every queue due after a host died");
                }
            }
        }
        hosts.sort_by(|a, b| a.host_id.cmp(&b.host_id));
        Ok(hosts)
    }

    /// How many live hosts serve each of `queues` (same order).
    pub async fn serving_hosts(&self, queues: &[&str]) -> BrokerResult<Vec<u64>> {
        let hosts = self.hosts().await?;
        Ok(queues
            .iter()
            .map(|q| hosts.iter().filter(|h| h.serves(q)).count() as u64)
            .collect())
    }

    /// Removes a host from the registry at once (graceful shutdown).
    pub async fn remove_host(&self, host_id: &str) -> BrokerResult<()> {
        let global = &self.inner.global;
        redis::pipe()
            .del(global.host(host_id))
            .ignore()
            .zrem(&global.host_index, host_id)
            .ignore()
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("remove host", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_matches_the_type_before_the_version() {
        let host = HostInfo {
            host_id: "h".into(),
            hostname: "box".into(),
            pid: 1,
            version: "0".into(),
            started_at_ms: 0,
            plugins: vec!["email@1a2b".into(), "resize".into()],
            in_flight: 0,
            processed: 0,
            last_seen_ms: 0,
        };
        assert!(host.serves("email") && host.serves("resize"));
        assert!(!host.serves("emai") && !host.serves("1a2b") && !host.serves("email@1a2b"));
    }
}
