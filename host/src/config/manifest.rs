//! The plugin manifest: `<type>.toml` next to `<type>.wasm`.
//!
//! The manifest lets a plugin author (or operator) change the limits of one
//! task type, for the worker its concurrency and retry policy, and grant the
//! plugin what it may reach beyond its sandbox (see [`super::capabilities`]):
//!
//! ```toml
//! fuel = 5_000_000_000
//! timeout = "2s"
//! memory = "128MiB"
//! max_output = "4MiB"
//! max_concurrency = 4
//! max_retries = 5
//! backoff_base = "1s"
//! backoff_cap = "5m"
//! rate = "100/s"                # across all hosts, unless set in Redis
//! burst = 20
//! global_concurrency = 50       # running at once across all hosts
//! throttle_on_retry_after = true  # a retry-after pauses the whole queue
//!
//!
//! [capabilities]
//! http = ["https://api.example.com", "https://*.mailgun.net:443", "http://127.0.0.1:8025"]
//! http_max_requests = 16        # per run
//! http_max_response = "4MiB"    # per response body
//! kv = ["thumbnails", "cache"]  # bucket names
//! enqueue = ["email"]          # task types it may enqueue children of
//! enqueue_max_children = 100    # per run
//!
//! [config]     # plain settings the plugin reads
//! mail_api = "http://127.0.0.1:8025/send"
//!
//! [secrets]    # where each secret is, never the secret itself
//! mail_token = "env:MAILER_KEY"
//! signing_key = "file:/run/secrets/signing"
//! ```
//!
//! Parsing is strict: an unknown key or an out-of-range value is an error that
//! names the file and the key, so a typo cannot silently leave a default in
//! force. Reading is bounded: the manifest is read with
//! [`read_regular_file`](super::read_regular_file) (no FIFO or device, at
//! most [`MAX_MANIFEST_SIZE`] bytes, symlinks confined like the plugin's).

use super::capabilities::{self, CAPABILITY_KEYS, Capabilities, RawCapabilities};
use super::file::{FileError, FileRules, read_regular_file};
use super::limits::{InvalidLimit, Limits};
use super::secrets::SecretSource;
use super::units::{parse_duration, parse_size};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest manifest accepted: 64 KiB. A manifest is a dozen lines of TOML;
/// anything near this is not one, and parsing it would cost for nothing.
pub const MAX_MANIFEST_SIZE: u64 = 64 << 10;

/// A parsed and validated plugin manifest. `None` means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginManifest {
    /// Fuel budget per run.
    pub fuel: Option<u64>,
    /// Wall-clock timeout per run.
    pub timeout: Option<Duration>,
    /// Memory cap in bytes.
    pub memory: Option<u64>,
    /// Output cap in bytes.
    pub max_output: Option<u64>,
    /// How many tasks of this type one host runs at once.
    pub max_concurrency: Option<u32>,
    /// How many times a failed task is retried before it is dead-lettered.
    pub max_retries: Option<u32>,
    /// First retry delay; doubled on each further retry.
    pub backoff_base: Option<Duration>,
    /// Longest retry delay.
    pub backoff_cap: Option<Duration>,
    /// Default limits across all hosts (`rate`, `burst`,
    /// `global_concurrency`); limits set in Redis win over these.
    pub limits: crate::ratelimit::QueueLimits,
    /// A retryable error with retry-after pauses the whole queue for that
    /// long, on every host, not just the task.
    pub throttle_on_retry_after: bool,
    /// What the plugin may reach: `[capabilities]`.
    pub capabilities: Capabilities,
    /// Plain settings for the plugin: `[config]`.
    pub config: BTreeMap<String, String>,
    /// Where the plugin's secrets are: `[secrets]`. Resolved at load time.
    pub secrets: BTreeMap<String, SecretSource>,
}

/// Why a manifest could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read: not a regular file, too large, a
    /// symlink out of the directory, or an I/O error.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file is not valid TOML, or has an unknown key or a wrongly typed value.
    #[error("{} is not a valid plugin manifest: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    /// A value is out of range or malformed.
    #[error("{}: {reason}; fix the value or remove the key to use the host default", path.display())]
    Invalid { path: PathBuf, reason: InvalidLimit },
    /// A `[capabilities]` value is malformed, out of range or not allowed.
    /// `key` is the capability (`http`, `kv`, ...).
    #[error("{}: `{}` {message}", path.display(), qualified("[capabilities]", .key))]
    Capability {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A `[config]` entry is malformed; an empty `key` means the whole table.
    #[error("{}: `{}` {message}", path.display(), qualified("[config]", .key))]
    Config {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A `[secrets]` entry is malformed; an empty `key` means the whole table.
    #[error("{}: `{}` {message}", path.display(), qualified("[secrets]", .key))]
    Secrets {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// `[table] key`, or `[table]` for the table as a whole.
fn qualified(table: &str, key: &str) -> String {
    if key.is_empty() {
        table.to_owned()
    } else {
        format!("{table} {key}")
    }
}

const ALLOWED_KEYS: &str = "fuel, timeout, memory, max_output, max_concurrency, max_retries, \
                            backoff_base, backoff_cap, rate, burst, global_concurrency, \
                            throttle_on_retry_after, [capabilities], [config], [secrets]";

/// A size written either as a byte count or as text such as `"64MiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum SizeValue {
    Bytes(i64),
    Text(String),
}

/// The manifest as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    fuel: Option<i64>,
    timeout: Option<String>,
    memory: Option<SizeValue>,
    max_output: Option<SizeValue>,
    max_concurrency: Option<i64>,
    max_retries: Option<i64>,
    backoff_base: Option<String>,
    backoff_cap: Option<String>,
    rate: Option<String>,
    burst: Option<i64>,
    global_concurrency: Option<i64>,
    throttle_on_retry_after: Option<bool>,
    capabilities: Option<RawCapabilities>,
    config: Option<BTreeMap<String, String>>,
    secrets: Option<BTreeMap<String, String>>,
}

impl PluginManifest {
    /// Where the manifest of `wasm` lives: the same path with `.toml`.
    pub fn path_for(wasm: &Path) -> PathBuf {
        wasm.with_extension("toml")
    }

    /// Loads the manifest next to `wasm`, or `None` when there is none. With
    /// `confine`, a symlinked manifest must resolve inside that directory.
    pub fn load_for(
        wasm: &Path,
        confine: Option<&Path>,
    ) -> Result<Option<PluginManifest>, ManifestError> {
        let path = Self::path_for(wasm);
        match Self::read_text(&path, confine)? {
            Some(text) => Self::parse(&text, &path).map(Some),
            None => Ok(None),
        }
    }

    /// The text of the manifest at `path` (a regular file of at most
    /// [`MAX_MANIFEST_SIZE`] bytes of UTF-8), or `None` when there is none:
    /// what [`PluginManifest::load_for`] parses, for a caller that keeps the
    /// text (`wasmq plugins push` stores it).
    pub fn read_text(path: &Path, confine: Option<&Path>) -> Result<Option<String>, ManifestError> {
        let rules = FileRules {
            what: "plugin manifest",
            max: MAX_MANIFEST_SIZE,
            confine,
        };
        let bytes = match read_regular_file(path, rules) {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| ManifestError::Syntax {
                path: path.to_owned(),
                message: format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            })
    }

    /// Parses and validates manifest text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<PluginManifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: path.to_owned(),
            message: syntax_message(&e, text),
        })?;
        let invalid = |reason: InvalidLimit| ManifestError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let queue_limits = limits(&raw, path)?;
        let config = capabilities::config(raw.config.unwrap_or_default(), path)?;
        let manifest = PluginManifest {
            fuel: raw
                .fuel
                .map(|v| Limits::check_fuel(positive("fuel", v)?))
                .transpose()
                .map_err(invalid)?,
            timeout: raw
                .timeout
                .map(|v| Limits::check_timeout(duration("timeout", &v)?))
                .transpose()
                .map_err(invalid)?,
            memory: raw
                .memory
                .map(|v| Limits::check_memory(size("memory", v)?))
                .transpose()
                .map_err(invalid)?,
            max_output: raw
                .max_output
                .map(|v| Limits::check_max_output(size("max_output", v)?))
                .transpose()
                .map_err(invalid)?,
            max_concurrency: raw
                .max_concurrency
                .map(|v| bounded("max_concurrency", v, 1, 1024))
                .transpose()
                .map_err(invalid)?,
            max_retries: raw
                .max_retries
                .map(|v| bounded("max_retries", v, 0, crate::task::MAX_RETRIES))
                .transpose()
                .map_err(invalid)?,
            backoff_base: raw
                .backoff_base
                .map(|v| backoff("backoff_base", &v))
                .transpose()
                .map_err(invalid)?,
            backoff_cap: raw
                .backoff_cap
                .map(|v| backoff("backoff_cap", &v))
                .transpose()
                .map_err(invalid)?,
            limits: queue_limits,
            throttle_on_retry_after: raw.throttle_on_retry_after.unwrap_or(false),
            capabilities: raw
                .capabilities
                .map(|c| capabilities::capabilities(c, path))
                .transpose()?
                .unwrap_or_default(),
            secrets: capabilities::secrets(raw.secrets.unwrap_or_default(), &config, path)?,
            config,
        };
        if let (Some(base), Some(cap)) = (manifest.backoff_base, manifest.backoff_cap)
            && base > cap
        {
            return Err(invalid(InvalidLimit {
                key: "backoff_cap",
                message: format!(
                    "({}) is shorter than backoff_base ({})",
                    super::units::format_duration(cap),
                    super::units::format_duration(base)
                ),
            }));
        }
        Ok(manifest)
    }
}

/// toml's message, with the line, and for an unknown key the allowed keys
/// in manifest syntax (serde lists tables as fields, and does not say
/// which table the key is in: the expected keys tell).
fn syntax_message(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim();
    let message = match message.split_once(", expected one of") {
        Some((unknown, expected)) if unknown.starts_with("unknown field") => {
            let unknown = unknown.replacen("field", "key", 1);
            if expected.contains("`http_max_requests`") {
                format!("{unknown} in [capabilities]; allowed keys: {CAPABILITY_KEYS}")
            } else if unknown == "unknown key `grants`" {
                format!(
                    "{unknown}; [grants] is now [capabilities] (allowed keys: {CAPABILITY_KEYS})"
                )
            } else {
                format!("{unknown}; allowed keys: {ALLOWED_KEYS}")
            }
        }
        _ => message.to_owned(),
    };
    let Some(span) = error.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let number = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(number - 1).unwrap_or("").trim();
    let line: String = line.chars().take(80).collect();
    format!("line {number} (`{line}`): {message}")
}

/// `rate`, `burst` and `global_concurrency`, validated like the CLI's.
fn limits(raw: &RawManifest, path: &Path) -> Result<crate::ratelimit::QueueLimits, ManifestError> {
    let invalid = |key: &'static str, message: String| ManifestError::Invalid {
        path: path.to_owned(),
        reason: InvalidLimit { key, message },
    };
    let burst = raw
        .burst
        .map(|v| {
            u64::try_from(v).map_err(|_| invalid("burst", format!("must be positive, got {v}")))
        })
        .transpose()?;
    let concurrency = raw
        .global_concurrency
        .map(|v| {
            u64::try_from(v)
                .map_err(|_| invalid("global_concurrency", format!("must be positive, got {v}")))
        })
        .transpose()?;
    crate::ratelimit::QueueLimits::from_parts(raw.rate.as_deref(), burst, concurrency).map_err(
        |e| {
            let key = match e {
                crate::ratelimit::LimitError::Rate { .. } => "rate",
                crate::ratelimit::LimitError::BurstWithoutRate => "burst",
                crate::ratelimit::LimitError::OutOfRange { what: "burst", .. } => "burst",
                crate::ratelimit::LimitError::OutOfRange { .. } => "global_concurrency",
            };
            invalid(key, e.to_string())
        },
    )
}

fn positive(key: &'static str, value: i64) -> Result<u64, InvalidLimit> {
    u64::try_from(value).map_err(|_| InvalidLimit {
        key,
        message: format!("must be positive, got {value}"),
    })
}

pub(super) fn bounded(
    key: &'static str,
    value: i64,
    min: u32,
    max: u32,
) -> Result<u32, InvalidLimit> {
    u32::try_from(value)
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| InvalidLimit {
            key,
            message: format!("must be between {min} and {max}, got {value}"),
        })
}

fn duration(key: &'static str, text: &str) -> Result<Duration, InvalidLimit> {
    parse_duration(text).map_err(|message| InvalidLimit { key, message })
}

fn backoff(key: &'static str, text: &str) -> Result<Duration, InvalidLimit> {
    let value = duration(key, text)?;
    if value < Duration::from_millis(1) || value > Duration::from_secs(7 * 86400) {
        return Err(InvalidLimit {
            key,
            message: format!("must be between 1ms and 7 days, got `{text}`"),
        });
    }
    Ok(value)
}

pub(super) fn size(key: &'static str, value: SizeValue) -> Result<u64, InvalidLimit> {
    match value {
        SizeValue::Bytes(bytes) => positive(key, bytes),
        SizeValue::Text(text) => parse_size(&text).map_err(|message| InvalidLimit { key, message }),
    }
}

#[cfg(test)]
mod tests;
