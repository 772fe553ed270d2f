//! The daemon's own settings: what `wasmq run` connects to, serves and how
//! hard it works.
//!
//! Every setting can come from four places, and the first one that sets it
//! wins: a command-line flag, a `WASMQ_*` environment variable, the TOML
//! config file (`--config wasmq.toml`), the built-in default. The command line
//! and the environment are read by clap (in `cli/run.rs`) into a
//! [`RunOverrides`]; the file is read here into another one; [`RunOverrides::or`]
//! layers them and [`RunOverrides::resolve`] fills the rest with defaults and
//! checks every value. Tests and embedders skip all that and build a
//! [`RunConfig`] directly with [`RunConfig::new`].
//!
//! The file is strict for the same reason the plugin manifest is: an unknown
//! key (`consurrency = 8`) is an error naming the key and the file, never a
//! silently ignored line that leaves a default in force.
//!
//! ```toml
//! redis = "redis://127.0.0.1:6379"
//! plugins = "plugins"          # relative to this file
//! concurrency = 8
//! http = "127.0.0.1:8080"
//! http_allowed_host = ["queue.example.com"]
//! http_protect_reads = false
//! namespace = "wasmq"
//! drain_timeout = "30s"
//! lease = "30s"
//! ```

use super::AllowedHost;
use super::units::format_duration;
use crate::broker::MAX_BATCH;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event, for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for a log collector.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format `{other}`; use `human` or `json`"
            )),
        }
    }
}

/// The settings of one host, with every value resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// Redis URL (`redis://`, `rediss://`, cluster URLs as the broker documents).
    pub redis_url: String,
    /// Directory of `<type>.wasm` plugins (and `<type>.toml` manifests).
    pub plugins_dir: PathBuf,
    /// How many tasks this host runs at once, over all types.
    pub concurrency: usize,
    /// Address of the HTTP API and dashboard; `None` serves no HTTP.
    pub http: Option<SocketAddr>,
    /// Bearer token the HTTP API requires for changes (required to bind a
    /// non-loopback address). Only from the command line or environment
    /// (`WASMQ_HTTP_TOKEN`): secrets do not belong in config files.
    pub http_token: Option<Secret>,
    /// Names the HTTP API answers to besides its own address (the `Host`
    /// and `Origin` check against DNS rebinding and cross-site requests).
    pub http_allowed_hosts: Vec<AllowedHost>,
    /// Whether reads through the HTTP API need the token too (task results
    /// and payloads are data, and task ids can be guessed). Needs a token.
    pub http_protect_reads: bool,
    /// Enqueue rate limit of the HTTP API, per bearer token (or per client
    /// IP for requests without one), in this process; `None` for none.
    pub http_enqueue_rate: Option<crate::ratelimit::Rate>,
    /// Enqueue requests allowed at once per client (needs the rate; 1 when unset).
    pub http_enqueue_burst: Option<u64>,
    /// Prefix of every Redis key, so several deployments can share a server.
    pub namespace: String,
    /// How long a graceful shutdown waits for running tasks.
    pub drain_timeout: Duration,
    /// How long a lease lasts before another host may take the task over.
    /// Running tasks have theirs extended every third of this.
    pub lease: Duration,
    /// Most tasks leased in one round trip to Redis (1 to
    /// [`MAX_BATCH`], the most one lease call may carry).
    pub lease_batch: usize,
    /// How long a completed task's result is kept; zero keeps none.
    pub result_ttl: Duration,
    /// Replicas every enqueue made through this host (HTTP API, child
    /// tasks) must reach before it returns (Redis `WAIT`); 0 returns once
    /// the master has it. See docs/scaling.md for what a failover can lose.
    pub durable_enqueue: u32,
    /// How long a durable enqueue waits for its replicas.
    pub durable_timeout: Duration,
    /// First retry delay (doubled per attempt, full jitter) unless the
    /// plugin's manifest or the plugin itself says otherwise.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// How often this host announces itself; the record lives three times as long.
    pub heartbeat: Duration,
    /// How often this host promotes due tasks and reaps expired leases.
    pub maintenance_tick: Duration,
    /// Where compiled plugins are cached; `None` uses the runtime's default.
    pub cache_dir: Option<PathBuf>,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter (`info`, `wasmq=debug,...`); `None` uses `RUST_LOG`, then `info`.
    pub log_level: Option<String>,
    /// Grants added to some task types' manifests, by type: set by
    /// `wasmq dev --demo` for the servers it starts; no flag or file sets it.
    pub extra_grants: std::collections::BTreeMap<String, super::PluginManifest>,
    /// Sealing and opening of task data at rest: from `--keys-file` or
    /// `WASMQ_KEYS` only (keys do not belong in config files).
    pub encryption: Option<crate::crypto::Encryption>,
}

impl RunConfig {
    /// Default Redis URL.
    pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
    /// Default namespace.
    pub const DEFAULT_NAMESPACE: &str = "wasmq";

    /// A config with every default, serving `plugins_dir` from `redis_url`.
    pub fn new(redis_url: impl Into<String>, plugins_dir: impl Into<PathBuf>) -> RunConfig {
        RunConfig {
            redis_url: redis_url.into(),
            plugins_dir: plugins_dir.into(),
            concurrency: default_concurrency(),
            http: None,
            http_token: None,
            http_allowed_hosts: Vec::new(),
            http_protect_reads: false,
            http_enqueue_rate: None,
            http_enqueue_burst: None,
            namespace: Self::DEFAULT_NAMESPACE.to_owned(),
            drain_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(30),
            lease_batch: 64,
            result_ttl: Duration::from_secs(3600),
            durable_enqueue: 0,
            durable_timeout: Duration::from_secs(2),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            heartbeat: Duration::from_secs(5),
            maintenance_tick: Duration::from_millis(500),
            cache_dir: None,
            log_format: LogFormat::Human,
            log_level: None,
            extra_grants: Default::default(),
            encryption: None,
        }
    }

    /// Checks every value against its allowed range; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let bad = |key: &'static str, message: String| Err(InvalidSetting { key, message });
        if self.redis_url.trim().is_empty() {
            return bad(
                "redis",
                "is empty; pass a URL such as redis://127.0.0.1:6379".into(),
            );
        }
        if !(1..=4096).contains(&self.concurrency) {
            return bad(
                "concurrency",
                format!("must be between 1 and 4096, got {}", self.concurrency),
            );
        }
        if !(1..=MAX_BATCH).contains(&self.lease_batch) {
            return bad(
                "lease_batch",
                format!(
                    "must be between 1 and {MAX_BATCH}, got {}",
                    self.lease_batch
                ),
            );
        }
        if self.http_protect_reads && self.http_token.is_none() {
            return bad(
                "http_protect_reads",
                "is on but no HTTP token is set: set WASMQ_HTTP_TOKEN (or --http-token), or \
                 turn http_protect_reads off"
                    .into(),
            );
        }
        if let Some(burst) = self.http_enqueue_burst {
            if self.http_enqueue_rate.is_none() {
                return bad(
                    "http_enqueue_burst",
                    "is set without http_enqueue_rate: give the rate too (for example 10/s)".into(),
                );
            }
            if !(1..=crate::ratelimit::MAX_BURST).contains(&burst) {
                return bad(
                    "http_enqueue_burst",
                    format!(
                        "must be between 1 and {}, got {burst}",
                        crate::ratelimit::MAX_BURST
                    ),
                );
            }
        }
        let name_ok = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
        if self.namespace.is_empty()
            || self.namespace.len() > 64
            || !self.namespace.chars().all(name_ok)
        {
            return bad(
                "namespace",
                format!(
                    "`{}` must be 1 to 64 characters of A-Z a-z 0-9 _ . -",
                    self.namespace
                ),
            );
        }
        check_range(
            "lease",
            self.lease,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        )?;
        check_range(
            "drain_timeout",
            self.drain_timeout,
            Duration::ZERO,
            Duration::from_secs(86400),
        )?;
        check_range(
            "result_ttl",
            self.result_ttl,
            Duration::ZERO,
            Duration::from_secs(365 * 86400),
        )?;
        if self.durable_enqueue > MAX_DURABLE_REPLICAS {
            return bad(
                "durable_enqueue",
                format!(
                    "must be at most {MAX_DURABLE_REPLICAS} replicas, got {}",
                    self.durable_enqueue
                ),
            );
        }
        check_range(
            "durable_timeout",
            self.durable_timeout,
            Duration::from_millis(1),
            Duration::from_secs(60),
        )?;
        check_range(
            "backoff_base",
            self.backoff_base,
            Duration::from_millis(1),
            Duration::from_secs(7 * 86400),
        )?;
        check_range(
            "backoff_cap",
            self.backoff_cap,
            self.backoff_base,
            Duration::from_secs(7 * 86400),
        )?;
        check_range(
            "heartbeat",
            self.heartbeat,
            Duration::from_millis(100),
            Duration::from_secs(600),
        )?;
        check_range(
            "maintenance_tick",
            self.maintenance_tick,
            Duration::from_millis(10),
            Duration::from_secs(60),
        )?;
        Ok(())
    }
}

/// Most replicas a durable enqueue may wait for (the broker's limit too).
pub const MAX_DURABLE_REPLICAS: u32 = 16;

/// A secret value whose `Debug` output does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// The host's default concurrency: one task per available core.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn check_range(
    key: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), InvalidSetting> {
    if value < min || value > max {
        return Err(InvalidSetting {
            key,
            message: format!(
                "must be between {} and {}, got {}",
                format_duration(min),
                format_duration(max),
                format_duration(value)
            ),
        });
    }
    Ok(())
}

/// A setting outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {message}")]
pub struct InvalidSetting {
    /// The setting's name as written in the config file (flags use dashes).
    pub key: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

mod sources;

pub use sources::{DaemonConfigError, RunOverrides, parse_socket_addr};

#[cfg(test)]
mod tests;
