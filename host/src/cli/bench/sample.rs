//! Latency samples and their percentiles.
//!
//! The bench reports p50/p95/p99/max the same way for every phase, so the
//! arithmetic lives here, apart from the Redis and timing code, and is
//! property-tested. Percentiles use the nearest-rank method: the reported
//! p-th percentile is an actual sample, the smallest one with at least p% of
//! the samples at or below it. No interpolation means a p99 of 0.8 ms really
//! was observed, and a small sample cannot report a value nobody saw.

use serde::Serialize;

/// p50/p95/p99/max of a latency sample, in milliseconds (fractional: the
/// samples themselves are in microseconds or milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

/// The nearest-rank `pct`-th percentile of `sorted` (ascending, non-empty):
/// the sample at rank ⌈pct/100 · n⌉ (1-based, at least 1).
pub fn nearest_rank(sorted: &[u64], pct: f64) -> u64 {
    let n = sorted.len();
    let rank = ((pct / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

impl Percentiles {
    /// Percentiles of samples given in `unit_ms` milliseconds each (1.0 for
    /// milliseconds, 0.001 for microseconds); `None` for an empty sample.
    /// Sorts `samples` in place.
    pub fn of(samples: &mut [u64], unit_ms: f64) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |pct: f64| nearest_rank(samples, pct) as f64 * unit_ms;
        Some(Percentiles {
            p50: at(50.0),
            p95: at(95.0),
            p99: at(99.0),
            max: samples[samples.len() - 1] as f64 * unit_ms,
        })
    }

    /// Percentiles of samples in microseconds, reported in milliseconds.
    pub fn of_micros(samples: &mut [u64]) -> Option<Percentiles> {
        Self::of(samples, 0.001)
    }

    /// Percentiles of samples in milliseconds.
    pub fn of_millis(samples: &mut [u64]) -> Option<Percentiles> {
        Self::of(samples, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let mut one_to_hundred: Vec<u64> = (1..=100).rev().collect();
        let p = Percentiles::of_millis(&mut one_to_hundred).unwrap();
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        let mut single = vec![1500];
        let p = Percentiles::of_micros(&mut single).unwrap();
        assert_eq!((p.p50, p.p99, p.max), (1.5, 1.5, 1.5));
        assert_eq!(Percentiles::of_millis(&mut []), None);
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_observed_and_cover_their_share(
            mut samples in proptest::collection::vec(0u64..10_000_000, 1..500),
        ) {
            let original = samples.clone();
            let p = Percentiles::of_millis(&mut samples).unwrap();
            prop_assert!(p.p50 <= p.p95 && p.p95 <= p.p99 && p.p99 <= p.max);
            prop_assert_eq!(p.max, *original.iter().max().unwrap() as f64);
            for (pct, value) in [(50.0, p.p50), (95.0, p.p95), (99.0, p.p99)] {
                let value = value as u64;
                prop_assert!(original.contains(&value));
                let at_or_below = original.iter().filter(|s| **s <= value).count();
                prop_assert!(at_or_below as f64 >= pct / 100.0 * original.len() as f64);
                let below = original.iter().filter(|s| **s < value).count();
                prop_assert!((below as f64) < pct / 100.0 * original.len() as f64);
            }
        }
    }
}
