//! The worker-facing part of a manifest: concurrency, retries, limits.

use crate::config::PluginManifest;
use crate::config::units::format_duration;
use serde::Serialize;
use std::time::Duration;

/// The worker-facing settings of a plugin's manifest. `None` means the
/// manifest does not set it, so the host default applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PluginPolicy {
    /// How many tasks of this type one host runs at once.
    pub max_concurrency: Option<u32>,
    /// How many times a failed task is retried before it is dead-lettered.
    pub max_retries: Option<u32>,
    /// First retry delay, doubled on each further retry.
    #[serde(serialize_with = "duration_text")]
    pub backoff_base: Option<Duration>,
    /// Longest retry delay.
    #[serde(serialize_with = "duration_text")]
    pub backoff_cap: Option<Duration>,
    /// Default limits across all hosts (limits set in Redis win).
    #[serde(serialize_with = "limits_text")]
    pub limits: crate::ratelimit::QueueLimits,
    /// A retry-after pauses the whole queue, on every host.
    pub throttle_on_retry_after: bool,
}

/// Serializes limits as text (`"rate 100/s, burst 1"`), `null` if none.
fn limits_text<S: serde::Serializer>(
    value: &crate::ratelimit::QueueLimits,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if value.is_unlimited() {
        serializer.serialize_none()
    } else {
        serializer.collect_str(value)
    }
}

/// Serializes a duration as manifest text (`"1s"`), like [`Limits`] does.
fn duration_text<S: serde::Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.collect_str(&format_duration(*duration)),
        None => serializer.serialize_none(),
    }
}

impl PluginPolicy {
    /// The policy part of a manifest (all `None` without one).
    pub fn from_manifest(manifest: Option<&PluginManifest>) -> Self {
        manifest.map_or_else(Self::default, |m| PluginPolicy {
            max_concurrency: m.max_concurrency,
            max_retries: m.max_retries,
            backoff_base: m.backoff_base,
            backoff_cap: m.backoff_cap,
            limits: m.limits,
            throttle_on_retry_after: m.throttle_on_retry_after,
        })
    }
}
