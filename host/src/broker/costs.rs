//! What each plugin version's runs cost over the last hour: p50, p95 and
//! p99 of wall time, fuel and peak memory, for the dashboard's cost panel,
//! `GET /api/v1/costs` and the comparison of a new version with the one
//! before it.
//!
//! The settle scripts count every run into a histogram in the same call
//! that settles it (`count_costs` in `prelude.lua`): one hash per queue
//! and 5-minute window, `cost:<window>`, fields `<version>|w|<bin>` (wall
//! ms), `<version>|f|<bin>` (fuel), `<version>|m|<bin>` (peak bytes),
//! `<version>|n` (runs) and `<version>|t` (last run, ms). A bin is
//! `⌊4·log2(v+1)⌋`, four per doubling, so a quantile read back is within
//! 9% of the true value whatever the scale (a fuel count or a byte size).
//! A batch of alike runs adds to a few fields at once, so an ack of 500
//! tasks costs a handful of `HINCRBY`s, not 1500. A window expires
//! [`COST_KEEP`] after its first write (the write that creates it sets the
//! expiry; later acks skip the `PEXPIRE`); a reader merges the last 12. The
//! window number is the client's estimate of Redis's clock, like a result
//! bucket's.

use super::client::Client;
use super::error::BrokerResult;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Width of one cost window.
pub const COST_WINDOW: Duration = Duration::from_secs(300);
/// How long a window is kept after its last write: the hour a reader
/// looks at, plus the window itself.
pub const COST_KEEP: Duration = Duration::from_secs(3600 + 300);
/// Windows a reader merges: the last hour.
const WINDOWS: u64 = 12;

/// p50, p95 and p99 of one measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// What one plugin version's runs cost over the last hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionCost {
    /// The plugin version.
    pub version: String,
    /// Runs counted.
    pub runs: u64,
    /// When the last one settled (ms since the Unix epoch, Redis's clock).
    pub last_run_ms: u64,
    /// Wall time, ms.
    pub wall_ms: Quantiles,
    /// Fuel.
    pub fuel: Quantiles,
    /// Peak linear memory, bytes.
    pub peak_memory_bytes: Quantiles,
}

/// The histograms of one version while they are merged.
#[derive(Default)]
struct Merged {
    runs: u64,
    last: u64,
    bins: [BTreeMap<u32, u64>; 3],
}

/// The middle of a bin: the inverse of `cost_bin` in `prelude.lua`.
fn bin_value(bin: u32) -> f64 {
    if bin == 0 {
        return 0.0;
    }
    2f64.powf((f64::from(bin) + 0.5) / 4.0) - 1.0
}

/// The bin of a value, as `cost_bin` in `prelude.lua` computes it.
#[cfg(test)]
fn bin_of(v: u64) -> u32 {
    if v < 1 {
        return 0;
    }
    (4.0 * ((v + 1) as f64).log2()).floor() as u32
}

fn quantiles(bins: &BTreeMap<u32, u64>) -> Quantiles {
    let total: u64 = bins.values().sum();
    let at = |q: f64| {
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bin, n) in bins {
            seen += n;
            if seen >= rank {
                return bin_value(*bin).round();
            }
        }
        0.0
    };
    if total == 0 {
        return Quantiles::default();
    }
    Quantiles {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

/// Merges the windows' fields into per-version costs, newest version first.
fn merge(windows: Vec<Vec<(String, u64)>>) -> Vec<VersionCost> {
    let mut versions: BTreeMap<String, Merged> = BTreeMap::new();
    for (field, n) in windows.into_iter().flatten() {
        let mut parts = field.rsplitn(3, '|');
        let (Some(last), Some(mid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (version, measure, bin) = match parts.next() {
            Some(version) => (version, mid, last.parse::<u32>().ok()),
            None => (mid, last, None),
        };
        let merged = versions.entry(version.to_owned()).or_default();
        match (measure, bin) {
            ("n", None) => merged.runs += n,
            ("t", None) => merged.last = merged.last.max(n),
            ("w", Some(b)) => *merged.bins[0].entry(b).or_default() += n,
            ("f", Some(b)) => *merged.bins[1].entry(b).or_default() += n,
            ("m", Some(b)) => *merged.bins[2].entry(b).or_default() += n,
            _ => {}
        }
    }
    let mut out: Vec<VersionCost> = versions
        .into_iter()
        .filter(|(_, m)| m.runs > 0)
        .map(|(version, m)| VersionCost {
            version,
            runs: m.runs,
            last_run_ms: m.last,
            wall_ms: quantiles(&m.bins[0]),
            fuel: quantiles(&m.bins[1]),
            peak_memory_bytes: quantiles(&m.bins[2]),
        })
        .collect();
    out.sort_by(|a, b| {
        b.last_run_ms
            .cmp(&a.last_run_ms)
            .then(a.version.cmp(&b.version))
    });
    out
}

impl Client {
    /// The cost window runs settled now go to.
    pub(crate) fn cost_window(&self) -> u64 {
        self.redis_now_ms() / COST_WINDOW.as_millis() as u64
    }

    /// What each version of `queue`'s plugin cost over the last hour, the
    /// version that ran last first.
    pub async fn plugin_costs(&self, queue: &str) -> BrokerResult<Vec<VersionCost>> {
        let keys = self.keys(queue)?;
        let now = self.cost_window();
        let mut pipe = redis::pipe();
        for w in now.saturating_sub(WINDOWS - 1)..=now {
            pipe.hgetall(keys.cost(w));
        }
        let windows: Vec<Vec<(String, u64)>> = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("read the plugin costs of queue {queue:?}"), e))?;
        Ok(merge(windows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_bin_reads_back_within_ten_percent(v in 1u64..(1 << 50)) {
            let back = bin_value(bin_of(v));
            let err = (back - v as f64).abs() / (v as f64 + 1.0);
            prop_assert!(err < 0.10, "{} -> {} ({})", v, back, err);
        }
    }

    #[test]
    fn versions_merge_across_windows_newest_first() {
        let field = |v: &str, m: &str, value: u64| format!("{v}|{m}|{}", bin_of(value));
        let old = vec![
            ("1.0|n".to_owned(), 100),
            ("1.0|t".to_owned(), 1000),
            (field("1.0", "w", 10), 99),
            (field("1.0", "w", 1000), 1),
            (field("1.0", "f", 5000), 100),
        ];
        let new = vec![
            ("2.0|n".to_owned(), 10),
            ("2.0|t".to_owned(), 2000),
            (field("2.0", "w", 20), 10),
            (field("2.0", "m", 1 << 20), 10),
            ("junk".to_owned(), 5),
        ];
        let costs = merge(vec![old, new]);
        assert_eq!(
            costs.iter().map(|c| c.version.as_str()).collect::<Vec<_>>(),
            ["2.0", "1.0"]
        );
        let v1 = &costs[1];
        assert_eq!(v1.runs, 100);
        assert!((v1.wall_ms.p50 - 10.0).abs() <= 1.0, "{:?}", v1.wall_ms);
        assert!((v1.wall_ms.p99 - 10.0).abs() <= 1.0, "{:?}", v1.wall_ms);
        assert!(
            v1.fuel.p50 > 4500.0 && v1.fuel.p50 < 5500.0,
            "{:?}",
            v1.fuel
        );
        let v2 = &costs[0];
        assert!((v2.peak_memory_bytes.p95 / f64::from(1 << 20) - 1.0).abs() < 0.1);
        assert_eq!(quantiles(&BTreeMap::new()), Quantiles::default());
    }
}
