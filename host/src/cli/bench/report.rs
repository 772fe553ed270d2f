//! The bench's output: one JSON line for tools, then a summary for people.
//!
//! The JSON line comes first and alone on its line so that scripts comparing
//! queues (the `peer` field names this one) can read it with `head -1`. Its
//! required fields keep the names every peer uses; the extra ones break the
//! per-task costs down. The summary repeats the figures next to the targets
//! the project set itself (see `docs/benchmarks.md`), so a regression is
//! visible at a glance without being a failure: the machine running the
//! bench may simply be smaller.

use super::sample::Percentiles;
use serde::Serialize;
use std::fmt::Write;

/// Latency of the live phase, with the rate it was measured at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LiveFigures {
    /// Tasks per second sent.
    pub rate: f64,
    /// Tasks sent.
    pub n: usize,
    /// The rate the bench actually kept up (below `rate` if enqueues lagged).
    pub achieved_rate: f64,
    /// Enqueue → completion, milliseconds.
    #[serde(flatten)]
    pub latency: Percentiles,
}

/// Everything one bench run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always `wasmq`.
    pub peer: &'static str,
    /// The plugin the drain and live phases ran (`noop`, `cpu50`, `sleep200`,
    /// `fetch`, `tally`).
    pub variant: String,
    /// `in-process` or `child`.
    pub host_mode: &'static str,
    /// `release` or `debug`: debug figures are not comparable.
    pub build: &'static str,
    /// Tasks in the backlog.
    pub n: u64,
    /// Payload bytes per task.
    pub payload_bytes: usize,
    /// Each host's concurrency.
    pub concurrency: usize,
    /// Hosts that drained the backlog (`--hosts`; 1 otherwise).
    pub hosts: usize,
    /// Queues the backlog was spread over (`--queues`; 1 otherwise).
    pub queues: usize,
    /// Redis masters the Redis figures are summed over: 1 for one server,
    /// the number of masters on Cluster.
    pub shards: usize,
    /// Backlog enqueue rate (batch API), tasks/s.
    pub enqueue_per_s: f64,
    /// Backlog drain rate, first lease to last ack, tasks/s.
    pub process_per_s: f64,
    /// Enqueue → completion of backlog tasks, ms.
    pub lat_backlog_ms: Percentiles,
    /// Live latency at a fixed rate.
    pub live: LiveFigures,
    /// Redis `used_memory` growth per queued task, bytes.
    pub bytes_per_job: f64,
    /// The same minus the payload.
    pub bytes_per_job_beyond_payload: f64,
    /// Redis CPU during the drain (all masters), % of one core.
    pub process_redis_cpu_pct: f64,
    /// Host CPU during the drain (all hosts), % of one core.
    pub process_client_cpu_pct: f64,
    /// Redis CPU per drained task (all masters), µs.
    pub redis_cpu_us_per_task: f64,
    /// Host CPU per drained task (all hosts), µs.
    pub host_cpu_us_per_task: f64,
    /// Host resident memory (all hosts) at its peak during the drain minus
    /// before it, per 1,000 runs in flight (`min(concurrency × hosts, n)`
    /// were), MiB.
    pub host_rss_mib_per_1000_in_flight: f64,
    /// Redis CPU per enqueued task, µs.
    pub enqueue_redis_cpu_us_per_task: f64,
    /// Tasks completed in the drain (equals `n` in a good run).
    pub completed: u64,
    /// Drain wall time, from resuming the queue to the last completion seen, s.
    pub drain_s: f64,
    /// Host start until it served the plugin (compile or cache load), s.
    pub host_start_s: f64,
    /// With `--rate`: a plain and a rate-limited drain, side by side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_cost: Option<super::limited::LimitCost>,
    /// The encrypted pass (`--encrypt`), beside the plain figures above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<super::sealed::SealedFigures>,
}

impl Report {
    /// The single JSON line.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The summary for a terminal, with the targets alongside.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let hosts = match self.hosts {
            1 => format!("host {} (concurrency {})", self.host_mode, self.concurrency),
            k => format!(
                "{k} hosts, {} (concurrency {} each)",
                self.host_mode, self.concurrency
            ),
        };
        let redis = match self.shards {
            1 => "one Redis server".to_owned(),
            k => format!("Redis Cluster of {k} masters (Redis figures summed over the {k})"),
        };
        let queues = match self.queues {
            1 => String::new(),
            q => format!(" over {q} queues"),
        };
        let _ = writeln!(
            out,
            "wasmq bench: {} tasks of {} B{queues}, plugin {}, {hosts}, {redis}, {} build",
            self.n, self.payload_bytes, self.variant, self.build
        );
        let drain_target = match self.variant.as_str() {
            "noop" => "≥ 60 000/s",
            "cpu50" => "≥ 19 000/s",
            "sleep200" => "≥ 4 000/s at concurrency 1000",
            _ => "-",
        };
        let rows = [
            (
                "enqueue (batch)",
                format!("{:.0} tasks/s", self.enqueue_per_s),
                "≥ 80 000/s",
            ),
            (
                "drain",
                format!("{:.0} tasks/s in {:.2} s", self.process_per_s, self.drain_s),
                drain_target,
            ),
            ("backlog latency", fmt_pct(&self.lat_backlog_ms), "-"),
            (
                "live latency",
                format!("{} at {:.0}/s", fmt_pct(&self.live.latency), self.live.rate),
                "p99 ≤ 1 ms",
            ),
            (
                "Redis memory/task",
                format!(
                    "{:.0} B ({:.0} B beyond the payload)",
                    self.bytes_per_job, self.bytes_per_job_beyond_payload
                ),
                "≤ 150 B beyond",
            ),
            (
                "Redis CPU/task",
                format!(
                    "{:.1} µs drain ({:.0}% of a core), {:.1} µs enqueue",
                    self.redis_cpu_us_per_task,
                    self.process_redis_cpu_pct,
                    self.enqueue_redis_cpu_us_per_task
                ),
                "≤ 10 µs",
            ),
            (
                "host CPU/task",
                format!(
                    "{:.1} µs ({:.0}% of a core)",
                    self.host_cpu_us_per_task, self.process_client_cpu_pct
                ),
                "-",
            ),
            ("host start", format!("{:.2} s", self.host_start_s), "-"),
        ];
        for (what, value, target) in rows {
            let _ = writeln!(out, "  {what:<18} {value:<58} target {target}");
        }
        if let Some(c) = &self.limit_cost {
            let _ = writeln!(
                out,
                "  rate-limited lease ({} tasks each, limit {}): Redis CPU/task {:.1} µs plain, \
                 {:.1} µs limited; host CPU/task {:.1} µs plain, {:.1} µs limited; {:.0}/s vs {:.0}/s",
                c.n,
                c.rate,
                c.plain_redis_cpu_us_per_task,
                c.limited_redis_cpu_us_per_task,
                c.plain_host_cpu_us_per_task,
                c.limited_host_cpu_us_per_task,
                c.plain_per_s,
                c.limited_per_s
            );
        }
        if let Some(s) = &self.sealed {
            let value = format!(
                "Redis {:.1} µs drain, {:.1} µs enqueue; host {:.1} µs ({:.0} tasks/s)",
                s.redis_cpu_us_per_task,
                s.enqueue_redis_cpu_us_per_task,
                s.host_cpu_us_per_task,
                s.drain_per_s
            );
            let _ = writeln!(out, "  {:<18} {value:<58} target -", "encrypted/task");
        }
        if self.build == "debug" {
            let _ = writeln!(
                out,
                "  (debug build: build with `cargo build --release -p wasmq` for real figures)"
            );
        }
        out
    }
}

fn fmt_pct(p: &Percentiles) -> String {
    format!(
        "p50 {:.2} / p95 {:.2} / p99 {:.2} / max {:.2} ms",
        p.p50, p.p95, p.p99, p.max
    )
}

/// `release` or `debug`, from how this binary was compiled.
pub fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_shared_field_names() {
        let p = Percentiles {
            p50: 1.0,
            p95: 2.0,
            p99: 3.0,
            max: 4.0,
        };
        let report = Report {
            peer: "wasmq",
            variant: "noop".into(),
            host_mode: "in-process",
            build: build_kind(),
            n: 10,
            payload_bytes: 100,
            concurrency: 2,
            hosts: 1,
            queues: 1,
            shards: 1,
            enqueue_per_s: 1.0,
            process_per_s: 1.0,
            lat_backlog_ms: p,
            live: LiveFigures {
                rate: 100.0,
                n: 5,
                achieved_rate: 99.0,
                latency: p,
            },
            bytes_per_job: 200.0,
            bytes_per_job_beyond_payload: 100.0,
            process_redis_cpu_pct: 50.0,
            process_client_cpu_pct: 90.0,
            redis_cpu_us_per_task: 5.0,
            host_cpu_us_per_task: 10.0,
            host_rss_mib_per_1000_in_flight: 1.0,
            enqueue_redis_cpu_us_per_task: 2.0,
            completed: 10,
            drain_s: 1.0,
            host_start_s: 0.1,
            limit_cost: None,
            sealed: None,
        };
        let line = report.json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["peer"], "wasmq");
        assert_eq!(v["live"]["p99"], 3.0);
        assert_eq!(v["live"]["rate"], 100.0);
        assert_eq!(v["lat_backlog_ms"]["max"], 4.0);
        assert!(report.summary().contains("target ≥ 60 000/s"));
        assert_eq!(v["hosts"], 1);
        assert_eq!(v["shards"], 1);
        let scaled = Report {
            hosts: 4,
            shards: 3,
            ..report
        };
        let summary = scaled.summary();
        assert!(summary.contains("4 hosts"), "{summary}");
        assert!(summary.contains("summed over the 3"), "{summary}");
    }
}
