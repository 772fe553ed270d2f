//! The per-plugin cost panel on the wire: p50/p95/p99 of wall time, fuel
//! and peak memory per plugin version over the last hour, and how the
//! newest version compares with the one before.

use crate::broker::{Quantiles, VersionCost};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Which task types to show.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CostsQuery {
    /// Only this task type; every queue when absent.
    pub queue: Option<String>,
}

/// p50, p95 and p99 of one measure (within 9%: histogram bins).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct QuantilesDto {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl From<Quantiles> for QuantilesDto {
    fn from(q: Quantiles) -> Self {
        Self {
            p50: q.p50,
            p95: q.p95,
            p99: q.p99,
        }
    }
}

/// One plugin version's runs over the last hour.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionCostDto {
    /// The plugin version.
    pub version: String,
    /// Runs counted (every attempt, successful or not).
    pub runs: u64,
    /// When the last one settled, ms since the Unix epoch.
    pub last_run_ms: u64,
    /// Wall time, ms.
    pub wall_ms: QuantilesDto,
    /// Fuel.
    pub fuel: QuantilesDto,
    /// Peak linear memory, bytes.
    pub peak_memory_bytes: QuantilesDto,
}

impl From<VersionCost> for VersionCostDto {
    fn from(c: VersionCost) -> Self {
        Self {
            version: c.version,
            runs: c.runs,
            last_run_ms: c.last_run_ms,
            wall_ms: c.wall_ms.into(),
            fuel: c.fuel.into(),
            peak_memory_bytes: c.peak_memory_bytes.into(),
        }
    }
}

/// The newest version against the one before: each p50 of the new one
/// divided by the old one's (1.5 = 50% more; absent when the old is 0).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionChangeDto {
    /// The version before.
    pub from: String,
    /// The newest version.
    pub to: String,
    /// Wall time p50 ratio.
    pub wall_ms_p50: Option<f64>,
    /// Fuel p50 ratio.
    pub fuel_p50: Option<f64>,
    /// Peak memory p50 ratio.
    pub peak_memory_p50: Option<f64>,
}

/// One task type's plugin versions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskTypeCostDto {
    /// The task type (queue).
    pub task_type: String,
    /// Its versions that ran in the last hour, the last to run first.
    pub versions: Vec<VersionCostDto>,
    /// The newest version against the previous one, when two ran.
    pub change: Option<VersionChangeDto>,
}

impl TaskTypeCostDto {
    /// The costs of `task_type` as sent.
    pub fn new(task_type: String, versions: Vec<VersionCost>) -> Self {
        let ratio = |new: f64, old: f64| (old > 0.0).then(|| (new / old * 100.0).round() / 100.0);
        let change = match versions.as_slice() {
            [new, old, ..] => Some(VersionChangeDto {
                from: old.version.clone(),
                to: new.version.clone(),
                wall_ms_p50: ratio(new.wall_ms.p50, old.wall_ms.p50),
                fuel_p50: ratio(new.fuel.p50, old.fuel.p50),
                peak_memory_p50: ratio(new.peak_memory_bytes.p50, old.peak_memory_bytes.p50),
            }),
            _ => None,
        };
        Self {
            task_type,
            versions: versions.into_iter().map(Into::into).collect(),
            change,
        }
    }
}

/// What each task type's plugin versions cost over the last hour.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostsResponse {
    /// Task types with runs in the last hour.
    pub task_types: Vec<TaskTypeCostDto>,
    /// Queues not read because there were more than the server reads in one
    /// request (the first ones in name order are read); ask for one with
    /// `?queue=`.
    pub queues_not_read: usize,
}
