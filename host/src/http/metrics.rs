//! Prometheus metrics: the process-wide recorder and what the HTTP layer adds.
//!
//! The worker records its task counters and histograms with the `metrics`
//! macros wherever it runs; they only become visible once a recorder is
//! installed, which is what [`install`] does (once per process: tests start
//! several servers in one process, and a second global recorder would be an
//! error). The HTTP layer then adds:
//!
//! * `wasmq_http_requests_total{route,status}`, counted by [`track_requests`]
//!   with the route *pattern* (`/api/v1/tasks/{id}`), never the raw path, so
//!   the label set stays bounded whatever clients send;
//! * histogram buckets for the task and plugin timings, fuel and memory
//!   that the worker and runtime record (Prometheus histograms rather than
//!   summaries, so they aggregate across hosts);
//! * `wasmq_queue_depth{queue,state}`, `wasmq_queue_paused{queue}`,
//!   `wasmq_queue_live_hosts{queue}` and `wasmq_broker_up`, refreshed from the broker at every scrape so they are
//!   never staler than the scrape itself (see `routes::system`).
//!
//! Labels follow one scheme everywhere: a series about one task type (its
//! runs, its plugin's loads and compiles, its plugin's HTTP requests) is
//! labelled `task_type`; one about how a queue is handled in Redis (leases,
//! settlement, depth), `queue`.

use super::error::HttpError;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Buckets of `wasmq_task_duration_seconds`: 1 ms to 5 min.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Buckets of `wasmq_task_fuel_used`: 10 thousand to 10 billion units.
pub const FUEL_BUCKETS: &[f64] = &[1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 2e9, 1e10];

/// Buckets of `wasmq_task_peak_memory_bytes`: 64 KiB to 1 GiB.
pub const MEMORY_BUCKETS: &[f64] = &[
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
];

/// Buckets of `wasmq_plugin_compile_seconds`: 10 ms to 2 min.
pub const COMPILE_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// Buckets of `wasmq_http_request_duration_seconds`.
pub const HTTP_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes; a scrape folds them too.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder for this process (the first call does,
/// later calls return the same handle) and returns the handle that renders
/// the scrape text.
///
/// Call it before anything records metrics (the daemon does so at start-up,
/// [`serve`](super::serve) does too); metrics recorded before are lost.
pub fn install() -> Result<PrometheusHandle, HttpError> {
    HANDLE
        .get_or_init(|| build().map_err(|e| e.to_string()))
        .clone()
        .map_err(HttpError::Metrics)
}

fn build() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let full = |name: &str| Matcher::Full(name.to_owned());
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(full("wasmq_task_duration_seconds"), DURATION_BUCKETS)?
        .set_buckets_for_metric(full("wasmq_task_fuel_used"), FUEL_BUCKETS)?
        .set_buckets_for_metric(full("wasmq_task_peak_memory_bytes"), MEMORY_BUCKETS)?
        .set_buckets_for_metric(full("wasmq_plugin_compile_seconds"), COMPILE_BUCKETS)?
        .set_buckets_for_metric(full("wasmq_http_request_duration_seconds"), HTTP_BUCKETS)?
        .install_recorder()?;
    describe();
    Ok(handle)
}

/// Help texts of the metrics this module owns.
fn describe() {
    metrics::describe_counter!(
        "wasmq_http_requests_total",
        "HTTP requests served, by route pattern and status code"
    );
    metrics::describe_histogram!(
        "wasmq_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency, by route pattern"
    );
    metrics::describe_gauge!(
        "wasmq_queue_depth",
        "Tasks per queue and state, read from Redis at scrape time"
    );
    metrics::describe_gauge!("wasmq_queue_paused", "1 if the queue is paused");
    metrics::describe_gauge!(
        "wasmq_queue_live_hosts",
        "Live hosts (by heartbeat) with a plugin for the queue's task type, read at scrape time"
    );
    metrics::describe_counter!(
        "wasmq_plugin_http_requests_total",
        "Outbound HTTP requests of plugins, by plugin, host and status (a code, denied or error)"
    );
    metrics::describe_gauge!(
        "wasmq_broker_up",
        "1 if the last scrape could read the queue stats from Redis"
    );
}

/// Middleware: counts every request by route pattern and status, and times it.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("wasmq_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("wasmq_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_and_renders_buckets() {
        let first = install().unwrap();
        let second = install().unwrap();
        metrics::histogram!("wasmq_task_duration_seconds", "task_type" => "t").record(0.02);
        metrics::counter!("wasmq_http_requests_total", "route" => "/x", "status" => "200")
            .increment(1);
        first.run_upkeep();
        let text = second.render();
        assert!(
            text.contains("wasmq_task_duration_seconds_bucket{task_type=\"t\",le=\"0.025\"} 1"),
            "{text}"
        );
        assert!(text.contains("wasmq_http_requests_total"), "{text}");
    }

    #[test]
    fn buckets_ascend() {
        for buckets in [
            DURATION_BUCKETS,
            FUEL_BUCKETS,
            MEMORY_BUCKETS,
            COMPILE_BUCKETS,
            HTTP_BUCKETS,
        ] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        }
    }
}
