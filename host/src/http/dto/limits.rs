//! Wire types of `/api/v1/queues/{queue}/limits`.

use crate::broker::StoredLimits;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// New limits for a queue, replacing the old ones as a whole. An empty
/// object stores "no limit", which overrides a plugin manifest's default;
/// `DELETE` removes the limits so the manifest's apply again.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// Most task starts per period across all hosts: `100/s`, `30/m`, `2/h`.
    #[schema(example = "100/s")]
    pub rate: Option<String>,
    /// Starts allowed at once after an idle spell (1 to 100000; default: what 100 ms of the rate allows, at least 1).
    pub burst: Option<u64>,
    /// Most tasks running at once across all hosts (1 to 100000).
    pub concurrency: Option<u64>,
}

/// The limits of a queue as stored in Redis.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitsResponse {
    /// The queue.
    pub queue: String,
    /// `redis` when set through the API or CLI (on every host); `none` when
    /// nothing is set, so the plugin manifest's defaults apply, if any.
    pub source: String,
    /// Rate, if limited.
    pub rate: Option<String>,
    /// Burst (with a rate).
    pub burst: Option<u64>,
    /// Global concurrency cap, if any.
    pub concurrency: Option<u64>,
    /// When leasing is throttled (a plugin's retry-after), for how many ms more.
    pub throttled_ms: Option<u64>,
}

impl LimitsResponse {
    /// The response for `queue` from what Redis holds.
    pub fn new(
        queue: String,
        stored: Option<StoredLimits>,
        throttled: Option<std::time::Duration>,
    ) -> Self {
        let limits = stored.as_ref().map(|s| s.limits).unwrap_or_default();
        LimitsResponse {
            queue,
            source: if stored.is_some() { "redis" } else { "none" }.to_owned(),
            rate: limits.rate.map(|r| r.to_string()),
            burst: limits.rate.map(|_| limits.effective_burst()),
            concurrency: limits.concurrency,
            throttled_ms: throttled.map(|d| d.as_millis() as u64),
        }
    }
}
