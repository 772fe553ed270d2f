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
//! namespace = "wasmq"
//! drain_timeout = "30s"
//! lease = "30s"
//! ```

use super::units::{format_duration, parse_duration};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Prefix of every Redis key, so several deployments can share a server.
    pub namespace: String,
    /// How long a graceful shutdown waits for running tasks.
    pub drain_timeout: Duration,
    /// How long a lease lasts before another host may take the task over.
    /// Running tasks have theirs extended every third of this.
    pub lease: Duration,
    /// Most tasks leased in one round trip to Redis.
    pub lease_batch: usize,
    /// How long a completed task's result is kept; zero keeps none.
    pub result_ttl: Duration,
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
            namespace: Self::DEFAULT_NAMESPACE.to_owned(),
            drain_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(30),
            lease_batch: 64,
            result_ttl: Duration::from_secs(3600),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            heartbeat: Duration::from_secs(5),
            maintenance_tick: Duration::from_millis(500),
            cache_dir: None,
            log_format: LogFormat::Human,
            log_level: None,
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
        if !(1..=1000).contains(&self.lease_batch) {
            return bad(
                "lease_batch",
                format!("must be between 1 and 1000, got {}", self.lease_batch),
            );
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

/// Why the daemon's configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DaemonConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not valid TOML, has an unknown key or a mistyped value.
    #[error("{} is not a valid wasmq config file: {message} (allowed keys: {ALLOWED_KEYS})", path.display())]
    Syntax { path: PathBuf, message: String },
    /// A value is out of range; `origin` names the source it came from.
    #[error("{origin}: {reason}")]
    Invalid {
        origin: String,
        reason: InvalidSetting,
    },
}

const ALLOWED_KEYS: &str = "redis, plugins, concurrency, http, namespace, drain_timeout, lease, \
                            lease_batch, result_ttl, backoff_base, backoff_cap, heartbeat, \
                            maintenance_tick, cache_dir, log_format, log_level";

/// Settings from one source; `None` means "this source does not set it".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOverrides {
    /// See [`RunConfig::redis_url`].
    pub redis_url: Option<String>,
    /// See [`RunConfig::plugins_dir`].
    pub plugins_dir: Option<PathBuf>,
    /// See [`RunConfig::concurrency`].
    pub concurrency: Option<usize>,
    /// See [`RunConfig::http`].
    pub http: Option<SocketAddr>,
    /// See [`RunConfig::http_token`].
    pub http_token: Option<Secret>,
    /// See [`RunConfig::namespace`].
    pub namespace: Option<String>,
    /// See [`RunConfig::drain_timeout`].
    pub drain_timeout: Option<Duration>,
    /// See [`RunConfig::lease`].
    pub lease: Option<Duration>,
    /// See [`RunConfig::lease_batch`].
    pub lease_batch: Option<usize>,
    /// See [`RunConfig::result_ttl`].
    pub result_ttl: Option<Duration>,
    /// See [`RunConfig::backoff_base`].
    pub backoff_base: Option<Duration>,
    /// See [`RunConfig::backoff_cap`].
    pub backoff_cap: Option<Duration>,
    /// See [`RunConfig::heartbeat`].
    pub heartbeat: Option<Duration>,
    /// See [`RunConfig::maintenance_tick`].
    pub maintenance_tick: Option<Duration>,
    /// See [`RunConfig::cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// See [`RunConfig::log_format`].
    pub log_format: Option<LogFormat>,
    /// See [`RunConfig::log_level`].
    pub log_level: Option<String>,
}

/// The config file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    redis: Option<String>,
    plugins: Option<PathBuf>,
    concurrency: Option<i64>,
    http: Option<String>,
    namespace: Option<String>,
    drain_timeout: Option<String>,
    lease: Option<String>,
    lease_batch: Option<i64>,
    result_ttl: Option<String>,
    backoff_base: Option<String>,
    backoff_cap: Option<String>,
    heartbeat: Option<String>,
    maintenance_tick: Option<String>,
    cache_dir: Option<PathBuf>,
    log_format: Option<String>,
    log_level: Option<String>,
}

impl RunOverrides {
    /// Every setting of `self`, and those of `lower` that `self` leaves unset.
    pub fn or(self, lower: RunOverrides) -> RunOverrides {
        RunOverrides {
            redis_url: self.redis_url.or(lower.redis_url),
            plugins_dir: self.plugins_dir.or(lower.plugins_dir),
            concurrency: self.concurrency.or(lower.concurrency),
            http: self.http.or(lower.http),
            http_token: self.http_token.or(lower.http_token),
            namespace: self.namespace.or(lower.namespace),
            drain_timeout: self.drain_timeout.or(lower.drain_timeout),
            lease: self.lease.or(lower.lease),
            lease_batch: self.lease_batch.or(lower.lease_batch),
            result_ttl: self.result_ttl.or(lower.result_ttl),
            backoff_base: self.backoff_base.or(lower.backoff_base),
            backoff_cap: self.backoff_cap.or(lower.backoff_cap),
            heartbeat: self.heartbeat.or(lower.heartbeat),
            maintenance_tick: self.maintenance_tick.or(lower.maintenance_tick),
            cache_dir: self.cache_dir.or(lower.cache_dir),
            log_format: self.log_format.or(lower.log_format),
            log_level: self.log_level.or(lower.log_level),
        }
    }

    /// Fills what is unset with the defaults and validates the result.
    /// `origin` names the sources in errors (e.g. "command line, WASMQ_* or wasmq.toml").
    pub fn resolve(self, origin: &str) -> Result<RunConfig, DaemonConfigError> {
        let defaults = RunConfig::new(RunConfig::DEFAULT_REDIS, "plugins");
        let config = RunConfig {
            redis_url: self.redis_url.unwrap_or(defaults.redis_url),
            plugins_dir: self.plugins_dir.unwrap_or(defaults.plugins_dir),
            concurrency: self.concurrency.unwrap_or(defaults.concurrency),
            http: self.http.or(defaults.http),
            http_token: self.http_token.or(defaults.http_token),
            namespace: self.namespace.unwrap_or(defaults.namespace),
            drain_timeout: self.drain_timeout.unwrap_or(defaults.drain_timeout),
            lease: self.lease.unwrap_or(defaults.lease),
            lease_batch: self.lease_batch.unwrap_or(defaults.lease_batch),
            result_ttl: self.result_ttl.unwrap_or(defaults.result_ttl),
            backoff_base: self.backoff_base.unwrap_or(defaults.backoff_base),
            backoff_cap: self.backoff_cap.unwrap_or(defaults.backoff_cap),
            heartbeat: self.heartbeat.unwrap_or(defaults.heartbeat),
            maintenance_tick: self.maintenance_tick.unwrap_or(defaults.maintenance_tick),
            cache_dir: self.cache_dir.or(defaults.cache_dir),
            log_format: self.log_format.unwrap_or(defaults.log_format),
            log_level: self.log_level.or(defaults.log_level),
        };
        config
            .validate()
            .map_err(|reason| DaemonConfigError::Invalid {
                origin: origin.to_owned(),
                reason,
            })?;
        Ok(config)
    }

    /// Reads a config file. Relative paths in it are relative to the file.
    pub fn from_file(path: &Path) -> Result<RunOverrides, DaemonConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| DaemonConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_file(&text, path)
    }

    /// Parses config file text; `path` names the file in errors and anchors
    /// relative paths.
    pub fn parse_file(text: &str, path: &Path) -> Result<RunOverrides, DaemonConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| DaemonConfigError::Syntax {
            path: path.to_owned(),
            message: syntax_message(text, &e),
        })?;
        let invalid = |reason: InvalidSetting| DaemonConfigError::Invalid {
            origin: path.display().to_string(),
            reason,
        };
        let base = path.parent().unwrap_or(Path::new(""));
        let duration = |key: &'static str, value: Option<String>| {
            value
                .map(|text| {
                    parse_duration(&text)
                        .map_err(|message| invalid(InvalidSetting { key, message }))
                })
                .transpose()
        };
        let count = |key: &'static str, value: Option<i64>| {
            value
                .map(|v| {
                    usize::try_from(v).map_err(|_| {
                        invalid(InvalidSetting {
                            key,
                            message: format!("must be positive, got {v}"),
                        })
                    })
                })
                .transpose()
        };
        Ok(RunOverrides {
            redis_url: raw.redis,
            plugins_dir: raw.plugins.map(|p| base.join(p)),
            concurrency: count("concurrency", raw.concurrency)?,
            http: raw
                .http
                .map(|text| {
                    parse_socket_addr(&text).map_err(|message| {
                        invalid(InvalidSetting {
                            key: "http",
                            message,
                        })
                    })
                })
                .transpose()?,
            http_token: None,
            namespace: raw.namespace,
            drain_timeout: duration("drain_timeout", raw.drain_timeout)?,
            lease: duration("lease", raw.lease)?,
            lease_batch: count("lease_batch", raw.lease_batch)?,
            result_ttl: duration("result_ttl", raw.result_ttl)?,
            backoff_base: duration("backoff_base", raw.backoff_base)?,
            backoff_cap: duration("backoff_cap", raw.backoff_cap)?,
            heartbeat: duration("heartbeat", raw.heartbeat)?,
            maintenance_tick: duration("maintenance_tick", raw.maintenance_tick)?,
            cache_dir: raw.cache_dir.map(|p| base.join(p)),
            log_format: raw
                .log_format
                .map(|text| {
                    text.parse().map_err(|message| {
                        invalid(InvalidSetting {
                            key: "log_format",
                            message,
                        })
                    })
                })
                .transpose()?,
            log_level: raw.log_level,
        })
    }
}

/// Parses `host:port` such as `127.0.0.1:8080` or `[::1]:0`.
pub fn parse_socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an address; write it like 127.0.0.1:8080"))
}

/// toml's message plus the line it points at, without the ASCII-art snippet.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
#[path = "daemon_tests.rs"]
mod tests;
