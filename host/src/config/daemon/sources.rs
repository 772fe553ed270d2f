//! Where the daemon's settings come from: the config file and the layering
//! of sources (see the parent module's docs for the precedence).
//!
//! Each source yields a [`RunOverrides`] in which `None` means "not set
//! here"; [`RunOverrides::or`] layers two of them and
//! [`RunOverrides::resolve`] fills the gaps with defaults and validates.

use super::{AllowedHost, InvalidSetting, LogFormat, RunConfig, Secret};
use crate::config::units::parse_duration;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

const ALLOWED_KEYS: &str = "redis, plugins, concurrency, http, http_allowed_host, \
                            http_protect_reads, http_enqueue_rate, http_enqueue_burst, namespace, drain_timeout, lease, lease_batch, result_ttl, durable_enqueue, durable_timeout, backoff_base, backoff_cap, heartbeat, \
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
    /// See [`RunConfig::http_allowed_hosts`].
    pub http_allowed_hosts: Option<Vec<AllowedHost>>,
    /// See [`RunConfig::http_protect_reads`].
    pub http_protect_reads: Option<bool>,
    /// See [`RunConfig::http_enqueue_rate`].
    pub http_enqueue_rate: Option<crate::ratelimit::Rate>,
    /// See [`RunConfig::http_enqueue_burst`].
    pub http_enqueue_burst: Option<u64>,
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
    /// See [`RunConfig::durable_enqueue`].
    pub durable_enqueue: Option<u32>,
    /// See [`RunConfig::durable_timeout`].
    pub durable_timeout: Option<Duration>,
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
    http_allowed_host: Option<Vec<String>>,
    http_protect_reads: Option<bool>,
    http_enqueue_rate: Option<String>,
    http_enqueue_burst: Option<i64>,
    namespace: Option<String>,
    drain_timeout: Option<String>,
    lease: Option<String>,
    lease_batch: Option<i64>,
    result_ttl: Option<String>,
    durable_enqueue: Option<i64>,
    durable_timeout: Option<String>,
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
            http_allowed_hosts: self.http_allowed_hosts.or(lower.http_allowed_hosts),
            http_protect_reads: self.http_protect_reads.or(lower.http_protect_reads),
            http_enqueue_rate: self.http_enqueue_rate.or(lower.http_enqueue_rate),
            http_enqueue_burst: self.http_enqueue_burst.or(lower.http_enqueue_burst),
            namespace: self.namespace.or(lower.namespace),
            drain_timeout: self.drain_timeout.or(lower.drain_timeout),
            lease: self.lease.or(lower.lease),
            lease_batch: self.lease_batch.or(lower.lease_batch),
            result_ttl: self.result_ttl.or(lower.result_ttl),
            durable_enqueue: self.durable_enqueue.or(lower.durable_enqueue),
            durable_timeout: self.durable_timeout.or(lower.durable_timeout),
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
            http_allowed_hosts: self
                .http_allowed_hosts
                .unwrap_or(defaults.http_allowed_hosts),
            http_protect_reads: self
                .http_protect_reads
                .unwrap_or(defaults.http_protect_reads),
            http_enqueue_rate: self.http_enqueue_rate.or(defaults.http_enqueue_rate),
            http_enqueue_burst: self.http_enqueue_burst.or(defaults.http_enqueue_burst),
            namespace: self.namespace.unwrap_or(defaults.namespace),
            drain_timeout: self.drain_timeout.unwrap_or(defaults.drain_timeout),
            lease: self.lease.unwrap_or(defaults.lease),
            lease_batch: self.lease_batch.unwrap_or(defaults.lease_batch),
            result_ttl: self.result_ttl.unwrap_or(defaults.result_ttl),
            durable_enqueue: self.durable_enqueue.unwrap_or(defaults.durable_enqueue),
            durable_timeout: self.durable_timeout.unwrap_or(defaults.durable_timeout),
            backoff_base: self.backoff_base.unwrap_or(defaults.backoff_base),
            backoff_cap: self.backoff_cap.unwrap_or(defaults.backoff_cap),
            heartbeat: self.heartbeat.unwrap_or(defaults.heartbeat),
            maintenance_tick: self.maintenance_tick.unwrap_or(defaults.maintenance_tick),
            cache_dir: self.cache_dir.or(defaults.cache_dir),
            log_format: self.log_format.unwrap_or(defaults.log_format),
            log_level: self.log_level.or(defaults.log_level),
            extra_grants: defaults.extra_grants,
            encryption: defaults.encryption,
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
            http_allowed_hosts: raw
                .http_allowed_host
                .map(|names| {
                    names
                        .iter()
                        .map(|name| {
                            name.parse().map_err(|message| {
                                invalid(InvalidSetting {
                                    key: "http_allowed_host",
                                    message,
                                })
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            http_protect_reads: raw.http_protect_reads,
            http_enqueue_rate: raw
                .http_enqueue_rate
                .map(|text| {
                    crate::ratelimit::Rate::parse(&text).map_err(|e| {
                        invalid(InvalidSetting {
                            key: "http_enqueue_rate",
                            message: e.to_string(),
                        })
                    })
                })
                .transpose()?,
            http_enqueue_burst: raw
                .http_enqueue_burst
                .map(|v| {
                    u64::try_from(v).map_err(|_| {
                        invalid(InvalidSetting {
                            key: "http_enqueue_burst",
                            message: format!("must be positive, got {v}"),
                        })
                    })
                })
                .transpose()?,
            namespace: raw.namespace,
            drain_timeout: duration("drain_timeout", raw.drain_timeout)?,
            lease: duration("lease", raw.lease)?,
            lease_batch: count("lease_batch", raw.lease_batch)?,
            result_ttl: duration("result_ttl", raw.result_ttl)?,
            durable_enqueue: raw
                .durable_enqueue
                .map(|v| {
                    u32::try_from(v).map_err(|_| {
                        invalid(InvalidSetting {
                            key: "durable_enqueue",
                            message: format!("must be a replica count from 0 to 16, got {v}"),
                        })
                    })
                })
                .transpose()?,
            durable_timeout: duration("durable_timeout", raw.durable_timeout)?,
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
