//! What a plugin gets beyond its sandbox: the `[capabilities]`, `[config]`
//! and `[secrets]` tables of its manifest.
//!
//! A plugin reaches nothing outside its own memory unless its manifest says
//! so, and the manifest is where an operator reviews what a plugin may do.
//! So grants are explicit lists (hosts, buckets) rather than switches, and
//! their bounds are checked when the manifest is loaded: a typo in a host, a
//! bucket name with a space, or a request budget set for a plugin that has no
//! network is an error at deploy time that names the file and the key, not
//! a surprise at run time.
//!
//! The bounds (64 hosts, 16 buckets, 64 config entries of at most 4 KiB, 64
//! secrets) are far above what a plugin needs and far below what would make
//! a manifest expensive to hold for every loaded plugin.

use super::limits::InvalidLimit;
use super::manifest::{ManifestError, SizeValue, bounded, size};
use super::outbound::AllowList;
use super::secrets::SecretSource;
use super::units::{format_size, format_size_exact};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Default number of HTTP requests a plugin may make per run.
pub const DEFAULT_HTTP_MAX_REQUESTS: u32 = 16;
/// Largest `http_max_requests` accepted.
pub const MAX_HTTP_REQUESTS: u32 = 1000;
/// Default cap on one HTTP response body: 4 MiB.
pub const DEFAULT_HTTP_MAX_RESPONSE: u64 = 4 << 20;
/// Largest `http_max_response` accepted: 64 MiB.
pub const MAX_HTTP_RESPONSE: u64 = 64 << 20;
/// Most entries in `[capabilities] http`.
pub const MAX_HTTP_ENTRIES: usize = 64;
/// Most buckets in `[capabilities] kv`.
pub const MAX_KV_BUCKETS: usize = 16;
/// Most entries in `[config]`, and most in `[secrets]`.
pub const MAX_CONFIG_ENTRIES: usize = 64;
/// Longest `[config]` value, in bytes: 4 KiB.
pub const MAX_CONFIG_VALUE: usize = 4 << 10;

/// The keys of `[capabilities]`, for the unknown-key error.
pub(super) const CAPABILITY_KEYS: &str = "http, http_max_requests, http_max_response, kv, \
     kv_max_value, kv_ttl, enqueue, enqueue_max_children";

/// Most task types in `[capabilities] enqueue`.
pub const MAX_ENQUEUE_TYPES: usize = 64;

/// Default largest value one `set` may store: 1 MiB.
pub const DEFAULT_KV_MAX_VALUE: u64 = 1 << 20;
/// Largest `kv_max_value`: 16 MiB.
pub const MAX_KV_VALUE: u64 = 16 << 20;

/// What a plugin may reach. The default grants nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Where the plugin may send HTTP requests; empty: nowhere.
    pub http: AllowList,
    /// HTTP requests allowed per run.
    pub http_max_requests: u32,
    /// Largest HTTP response body accepted, in bytes.
    pub http_max_response: u64,
    /// Key-value buckets the plugin may use, in the order written.
    pub kv: Vec<String>,
    /// Largest value one write may store, in bytes.
    pub kv_max_value: u64,
    /// Buckets that expire this long after their last write (`kv_ttl`).
    pub kv_ttl: std::collections::BTreeMap<String, std::time::Duration>,
    /// Task types the plugin may enqueue children of, in the order written.
    pub enqueue: Vec<String>,
    /// Children allowed per run.
    pub enqueue_max_children: u32,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            http: AllowList::default(),
            http_max_requests: DEFAULT_HTTP_MAX_REQUESTS,
            http_max_response: DEFAULT_HTTP_MAX_RESPONSE,
            kv: Vec::new(),
            kv_max_value: DEFAULT_KV_MAX_VALUE,
            kv_ttl: std::collections::BTreeMap::new(),
            enqueue: Vec::new(),
            enqueue_max_children: crate::task::DEFAULT_MAX_CHILDREN,
        }
    }
}

impl Capabilities {
    /// Whether nothing is granted: no HTTP host, no bucket, no task type.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty() && self.kv.is_empty() && self.enqueue.is_empty()
    }
}

/// What a manifest grants, by name only, for listings (`wasmq plugins`,
/// `/api/v1/plugins`, the dashboard): never a config or secret value.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GrantsSummary {
    /// The `[capabilities] http` entries, normalised.
    pub http: Vec<String>,
    /// The granted buckets.
    pub kv: Vec<String>,
    /// The task types it may enqueue children of.
    pub enqueue: Vec<String>,
    /// The `[config]` keys.
    pub config: Vec<String>,
    /// The `[secrets]` keys.
    pub secrets: Vec<String>,
}

impl super::PluginManifest {
    /// What this manifest grants, by name.
    pub fn grants(&self) -> GrantsSummary {
        GrantsSummary {
            http: self
                .capabilities
                .http
                .rules()
                .iter()
                .map(ToString::to_string)
                .collect(),
            kv: self.capabilities.kv.clone(),
            enqueue: self.capabilities.enqueue.clone(),
            config: self.config.keys().cloned().collect(),
            secrets: self.secrets.keys().cloned().collect(),
        }
    }
}

/// `[capabilities]` as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCapabilities {
    http: Option<Vec<String>>,
    http_max_requests: Option<i64>,
    http_max_response: Option<SizeValue>,
    kv: Option<Vec<String>>,
    kv_max_value: Option<SizeValue>,
    kv_ttl: Option<std::collections::BTreeMap<String, String>>,
    enqueue: Option<Vec<String>>,
    enqueue_max_children: Option<i64>,
}

/// Validates `[capabilities]`.
pub(super) fn capabilities(
    raw: RawCapabilities,
    path: &Path,
) -> Result<Capabilities, ManifestError> {
    let error = |key: &str, message: String| ManifestError::Capability {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    let entries = raw.http.unwrap_or_default();
    if entries.len() > MAX_HTTP_ENTRIES {
        return Err(error(
            "http",
            format!(
                "has {} entries, more than the {MAX_HTTP_ENTRIES} allowed; \
                 cover several hosts with one wildcard such as https://*.example.com",
                entries.len()
            ),
        ));
    }
    let http = AllowList::parse(&entries).map_err(|message| error("http", message))?;
    let tuned = [
        ("http_max_requests", raw.http_max_requests.is_some()),
        ("http_max_response", raw.http_max_response.is_some()),
    ];
    let mut granted = Capabilities {
        http,
        ..Capabilities::default()
    };
    if let Some(value) = raw.http_max_requests {
        granted.http_max_requests = bounded("http_max_requests", value, 1, MAX_HTTP_REQUESTS)
            .map_err(|e| error(e.key, e.message))?;
    }
    if let Some(value) = raw.http_max_response {
        granted.http_max_response = size_up_to("http_max_response", value, MAX_HTTP_RESPONSE)
            .map_err(|e| error(e.key, e.message))?;
    }
    if granted.http.is_empty()
        && let Some((key, _)) = tuned.into_iter().find(|(_, set)| *set)
    {
        return Err(error(
            key,
            "is set but no host is granted; grant http first \
             (http = [\"https://api.example.com\"]) or remove it"
                .to_owned(),
        ));
    }
    granted.kv = buckets(raw.kv.unwrap_or_default()).map_err(|message| error("kv", message))?;
    if granted.kv.is_empty() && (raw.kv_max_value.is_some() || raw.kv_ttl.is_some()) {
        return Err(error(
            "kv",
            "is empty but kv_max_value or kv_ttl is set; grant a bucket first (kv = [\"cache\"]) or remove them"
                .to_owned(),
        ));
    }
    if let Some(value) = raw.kv_max_value {
        granted.kv_max_value =
            size_up_to("kv_max_value", value, MAX_KV_VALUE).map_err(|e| error(e.key, e.message))?;
    }
    for (bucket, text) in raw.kv_ttl.unwrap_or_default() {
        if !granted.kv.contains(&bucket) {
            return Err(error(
                "kv_ttl",
                format!(
                    "names bucket `{bucket}`, which `kv` does not grant; add it to kv or remove it"
                ),
            ));
        }
        let ttl = crate::config::units::parse_duration(&text)
            .ok()
            .filter(|d| (std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(365 * 86400)).contains(d))
            .ok_or_else(|| error("kv_ttl", format!("`{bucket} = \"{text}\"`: give a duration between 1s and 365d, such as \"7d\"")))?;
        granted.kv_ttl.insert(bucket, ttl);
    }
    granted.enqueue =
        task_types(raw.enqueue.unwrap_or_default()).map_err(|message| error("enqueue", message))?;
    if let Some(value) = raw.enqueue_max_children {
        if granted.enqueue.is_empty() {
            return Err(error(
                "enqueue_max_children",
                "is set but no task type is granted; grant one first (enqueue = [\"email\"]) \
                 or remove it"
                    .to_owned(),
            ));
        }
        granted.enqueue_max_children =
            bounded("enqueue_max_children", value, 1, crate::task::MAX_CHILDREN)
                .map_err(|e| error(e.key, e.message))?;
    }
    Ok(granted)
}

/// A size of at least 1 byte and at most `max`.
fn size_up_to(key: &'static str, value: SizeValue, max: u64) -> Result<u64, InvalidLimit> {
    let bytes = size(key, value)?;
    if bytes == 0 || bytes > max {
        return Err(InvalidLimit {
            key,
            message: format!(
                "must be between 1 byte and {}, got {}",
                format_size_exact(max),
                format_size(bytes)
            ),
        });
    }
    Ok(bytes)
}

fn buckets(names: Vec<String>) -> Result<Vec<String>, String> {
    if names.len() > MAX_KV_BUCKETS {
        return Err(format!(
            "has {} buckets, more than the {MAX_KV_BUCKETS} allowed",
            names.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for name in &names {
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!(
                "bucket `{name}` is not a valid name: write 1 to 64 characters of a-z, 0-9, \
                 `_` and `-`"
            ));
        }
        if !seen.insert(name) {
            return Err(format!("lists bucket `{name}` twice; list it once"));
        }
    }
    Ok(names)
}

/// Validates `[capabilities] enqueue`: queue names, listed once each.
fn task_types(task_types: Vec<String>) -> Result<Vec<String>, String> {
    if task_types.len() > MAX_ENQUEUE_TYPES {
        return Err(format!(
            "has {} task types, more than the {MAX_ENQUEUE_TYPES} allowed",
            task_types.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for task_type in &task_types {
        crate::error::validate_queue_name(task_type).map_err(|e| e.to_string())?;
        if !seen.insert(task_type) {
            return Err(format!("lists task type `{task_type}` twice; list it once"));
        }
    }
    Ok(task_types)
}

/// Whether `key` may name a config entry or a secret: `[a-z0-9_.-]{1,64}`.
fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-'
        })
}

/// A key for a message: `""` for the empty key, which would otherwise
/// read as the whole table.
fn shown(key: &str) -> &str {
    if key.is_empty() { "\"\"" } else { key }
}

const KEY_RULE: &str = "is not a valid key: write 1 to 64 characters of a-z, 0-9, `_`, `.` \
                        and `-`, so rename it";

/// Refuses a table of more than [`MAX_CONFIG_ENTRIES`] entries.
fn within_entries(len: usize) -> Result<(), String> {
    if len > MAX_CONFIG_ENTRIES {
        return Err(format!(
            "has {len} entries, more than the {MAX_CONFIG_ENTRIES} allowed"
        ));
    }
    Ok(())
}

/// Validates `[config]`.
pub(super) fn config(
    raw: BTreeMap<String, String>,
    path: &Path,
) -> Result<BTreeMap<String, String>, ManifestError> {
    let error = |key: &str, message: String| ManifestError::Config {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    within_entries(raw.len()).map_err(|message| error("", message))?;
    for (key, value) in &raw {
        if !valid_key(key) {
            return Err(error(shown(key), KEY_RULE.to_owned()));
        }
        if value.len() > MAX_CONFIG_VALUE {
            return Err(error(
                key,
                format!(
                    "is {} bytes, more than the {MAX_CONFIG_VALUE} allowed; \
                     put large data in the task's payload",
                    value.len()
                ),
            ));
        }
    }
    Ok(raw)
}

/// Validates `[secrets]`; a key may not also be in `config`.
pub(super) fn secrets(
    raw: BTreeMap<String, String>,
    config: &BTreeMap<String, String>,
    path: &Path,
) -> Result<BTreeMap<String, SecretSource>, ManifestError> {
    let error = |key: &str, message: String| ManifestError::Secrets {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    within_entries(raw.len()).map_err(|message| error("", message))?;
    raw.into_iter()
        .map(|(key, text)| {
            if !valid_key(&key) {
                return Err(error(shown(&key), KEY_RULE.to_owned()));
            }
            if config.contains_key(&key) {
                return Err(error(
                    &key,
                    "is also in [config]; a key is either config or a secret, so remove \
                     one of them"
                        .to_owned(),
                ));
            }
            let source = SecretSource::parse(&text).map_err(|message| error(&key, message))?;
            Ok((key, source))
        })
        .collect()
}

#[cfg(test)]
mod tests;
