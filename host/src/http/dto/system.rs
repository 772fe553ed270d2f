//! Hosts, plugins, aggregate stats and health, as the API shows them.

use super::queues::{CountersDto, QueueSizes};
use crate::broker::{HostInfo, ThroughputPoint};
use crate::config::Limits;
use crate::plugins::{PluginEntry, PluginPolicy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// A host that is running, from its last heartbeat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostDto {
    /// Unique per process.
    pub id: String,
    /// The machine's hostname.
    pub hostname: String,
    /// The process id.
    pub pid: u32,
    /// The wasmq version it runs.
    pub version: String,
    /// When the process started, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// Its loaded plugins, as `name@version`.
    pub plugins: Vec<String>,
    /// Tasks running now.
    pub in_flight: u64,
    /// Tasks finished since it started.
    pub processed: u64,
    /// When its last heartbeat was sent.
    pub last_heartbeat_ms: u64,
}

impl From<HostInfo> for HostDto {
    fn from(h: HostInfo) -> Self {
        Self {
            id: h.host_id,
            hostname: h.hostname,
            pid: h.pid,
            version: h.version,
            started_at_ms: h.started_at_ms,
            plugins: h.plugins,
            in_flight: h.in_flight,
            processed: h.processed,
            last_heartbeat_ms: h.last_seen_ms,
        }
    }
}

/// Every host with a live heartbeat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostsResponse {
    /// The server's clock, to show heartbeat ages without trusting the browser's.
    pub now_ms: u64,
    /// The hosts, sorted by id.
    pub hosts: Vec<HostDto>,
}

/// The limits of one run of a plugin.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct LimitsDto {
    /// Fuel budget.
    pub fuel: u64,
    /// Wall-clock budget, ms.
    pub timeout_ms: u64,
    /// Linear memory cap, bytes.
    pub memory_bytes: u64,
    /// Output size cap, bytes.
    pub max_output_bytes: u64,
}

impl From<Limits> for LimitsDto {
    fn from(l: Limits) -> Self {
        Self {
            fuel: l.fuel,
            timeout_ms: u64::try_from(l.timeout.as_millis()).unwrap_or(u64::MAX),
            memory_bytes: l.memory,
            max_output_bytes: l.max_output,
        }
    }
}

/// A plugin's concurrency and retry settings from its manifest.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PolicyDto {
    /// Tasks of this type one host runs at once (host default when null).
    pub max_concurrency: Option<u32>,
    /// Retries before dead-lettering (task or broker default when null).
    pub max_retries: Option<u32>,
    /// First retry delay, ms.
    pub backoff_base_ms: Option<u64>,
    /// Longest retry delay, ms.
    pub backoff_cap_ms: Option<u64>,
}

impl From<PluginPolicy> for PolicyDto {
    fn from(p: PluginPolicy) -> Self {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            max_concurrency: p.max_concurrency,
            max_retries: p.max_retries,
            backoff_base_ms: p.backoff_base.map(ms),
            backoff_cap_ms: p.backoff_cap.map(ms),
        }
    }
}

/// One plugin file of the host's plugin directory.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginDto {
    /// The task type it serves (the file stem).
    pub task_type: String,
    /// True when a working version serves the type.
    pub serving: bool,
    /// Short SHA-256 of the serving version.
    pub version: Option<String>,
    /// The version number when the plugin was pushed to Redis (`wasmq
    /// plugins push`); absent for a file of the plugins directory.
    pub pushed_version: Option<u64>,
    /// `component` or `command`.
    pub kind: Option<String>,
    /// Effective limits of the serving version.
    pub limits: Option<LimitsDto>,
    /// Manifest settings of the serving version.
    pub policy: Option<PolicyDto>,
    /// When the serving version was loaded, ms since the Unix epoch.
    pub loaded_at_ms: Option<u64>,
    /// The last load error, kept while an older version serves.
    pub error: Option<String>,
    /// What the serving version's manifest grants, by name (never a config
    /// or secret value).
    pub grants: Option<GrantsDto>,
}

/// A plugin's capability grants, by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantsDto {
    /// Outbound HTTP allow-list entries (`scheme://host[:port]`).
    pub http: Vec<String>,
    /// Key-value buckets.
    pub kv: Vec<String>,
    /// Task types it may enqueue children of.
    pub enqueue: Vec<String>,
    /// `[config]` keys.
    pub config: Vec<String>,
    /// `[secrets]` keys (their values are never shown).
    pub secrets: Vec<String>,
}

impl From<crate::config::GrantsSummary> for GrantsDto {
    fn from(g: crate::config::GrantsSummary) -> Self {
        Self {
            http: g.http,
            kv: g.kv,
            enqueue: g.enqueue,
            config: g.config,
            secrets: g.secrets,
        }
    }
}

impl From<PluginEntry> for PluginDto {
    fn from(e: PluginEntry) -> Self {
        Self {
            serving: e.is_serving(),
            task_type: e.task_type,
            version: e.version,
            pushed_version: match e.origin {
                crate::plugins::Origin::Pushed { version } => Some(version),
                crate::plugins::Origin::Directory => None,
            },
            kind: e.kind,
            limits: e.limits.map(Into::into),
            policy: e.policy.map(Into::into),
            loaded_at_ms: e.loaded_at_ms,
            error: e.error,
            grants: e.grants.map(Into::into),
        }
    }
}

/// The plugins of this server's host.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginsResponse {
    /// False when this API server runs without a plugin directory (then the
    /// list is empty: ask a host's own API).
    pub available: bool,
    /// Every plugin file, serving or failed, sorted by type.
    pub plugins: Vec<PluginDto>,
}

/// Totals over every queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsResponse {
    /// Known queues.
    pub queues: usize,
    /// Tasks per state, summed over queues.
    pub sizes: QueueSizes,
    /// Lifetime counters, summed over queues.
    pub counters: CountersDto,
    /// Queues currently paused.
    pub paused_queues: usize,
    /// Hosts with a live heartbeat.
    pub hosts: usize,
    /// Tasks running on those hosts.
    pub in_flight: u64,
}

/// Which throughput window to return.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThroughputQuery {
    /// Minutes back from now, 1 to 1440 (default 60).
    pub minutes: Option<u32>,
    /// Only this queue; the sum of every queue when absent.
    pub queue: Option<String>,
}

/// Completed and failed tasks of one minute.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ThroughputPointDto {
    /// Start of the minute, ms since the Unix epoch.
    pub minute_ms: u64,
    /// Tasks completed in that minute.
    pub completed: u64,
    /// Attempts that failed in that minute.
    pub failed: u64,
}

impl From<ThroughputPoint> for ThroughputPointDto {
    fn from(p: ThroughputPoint) -> Self {
        Self {
            minute_ms: p.minute_start_ms,
            completed: p.completed,
            failed: p.failed,
        }
    }
}

/// Per-minute throughput, oldest minute first, the current minute last.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThroughputResponse {
    /// The queue, or null for the sum of every queue.
    pub queue: Option<String>,
    /// One point per minute.
    pub points: Vec<ThroughputPointDto>,
}

/// What a client (the dashboard) needs to know about this server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InfoResponse {
    /// The wasmq version.
    pub version: String,
    /// The Redis key namespace.
    pub namespace: String,
    /// True when POST and DELETE need `Authorization: Bearer <token>`.
    pub auth_required: bool,
    /// True when reads of queue data (everything but this, the OpenAPI
    /// document, the dashboard and the health probes) need the token too.
    pub reads_protected: bool,
    /// True when the server has a plugin directory (see /api/v1/plugins).
    pub plugins_available: bool,
}

/// `/healthz`: the process is up.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthResponse {
    /// Always `ok`.
    pub status: String,
    /// Seconds since the server started.
    pub uptime_s: u64,
}

/// One readiness check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckDto {
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or why it failed and what to do.
    pub detail: String,
}

/// `/readyz`: whether this server can do its work.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyResponse {
    /// True when every check passed (then the status is 200, else 503).
    pub ready: bool,
    /// `redis` and, with a plugin directory, `plugins`.
    pub checks: BTreeMap<String, CheckDto>,
}
