//! Hosts, plugins, aggregate stats, health, readiness and the Prometheus scrape.

use crate::http::HttpState;
use crate::http::dto::{
    CheckDto, CountersDto, HealthResponse, HostDto, HostsResponse, InfoResponse, PluginDto,
    PluginsResponse, QueueDto, QueueSizes, ReadyResponse, StatsResponse, ThroughputPointDto,
    ThroughputQuery, ThroughputResponse,
};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiQuery, param_in_range};
use crate::task::unix_ms;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// How long `/readyz` and `/metrics` wait for Redis before calling it down:
/// a probe must answer quickly even when Redis hangs.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest throughput window, in minutes (one day, the buckets' retention).
pub const MAX_THROUGHPUT_MINUTES: u32 = 1440;

/// What the dashboard needs to know about this server.
#[utoipa::path(get, path = "/api/v1/info", tag = "system", responses((status = 200, body = InfoResponse)))]
pub async fn info(State(state): State<HttpState>) -> Json<InfoResponse> {
    Json(InfoResponse {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        namespace: state.client.options().namespace.clone(),
        auth_required: state.token.is_some(),
        reads_protected: state.protect_reads,
        plugins_available: state.registry.is_some(),
    })
}

/// Hosts with a live heartbeat.
#[utoipa::path(
    get, path = "/api/v1/hosts", tag = "system",
    responses((status = 200, body = HostsResponse), (status = 503, body = ErrorBody))
)]
pub async fn hosts(State(state): State<HttpState>) -> ApiResult<Json<HostsResponse>> {
    let hosts = state.client.hosts().await?;
    Ok(Json(HostsResponse {
        now_ms: unix_ms(SystemTime::now()),
        hosts: hosts.into_iter().map(HostDto::from).collect(),
    }))
}

/// This host's plugins: versions, limits and load errors.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "system", responses((status = 200, body = PluginsResponse)))]
pub async fn plugins(State(state): State<HttpState>) -> Json<PluginsResponse> {
    Json(match &state.registry {
        Some(registry) => PluginsResponse {
            available: true,
            plugins: registry
                .entries()
                .into_iter()
                .map(PluginDto::from)
                .collect(),
        },
        None => PluginsResponse {
            available: false,
            plugins: Vec::new(),
        },
    })
}

/// Totals over every queue and host.
#[utoipa::path(
    get, path = "/api/v1/stats", tag = "system",
    responses((status = 200, body = StatsResponse), (status = 503, body = ErrorBody))
)]
pub async fn stats(State(state): State<HttpState>) -> ApiResult<Json<StatsResponse>> {
    let queues: Vec<QueueDto> = state
        .client
        .stats()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let hosts = state.client.hosts().await?;
    let mut sizes = QueueSizes::default();
    let mut counters = CountersDto::default();
    for q in &queues {
        sizes.add(&q.sizes);
        counters.add(&q.counters);
    }
    Ok(Json(StatsResponse {
        queues: queues.len(),
        paused_queues: queues.iter().filter(|q| q.paused).count(),
        sizes,
        counters,
        hosts: hosts.len(),
        in_flight: hosts.iter().map(|h| h.in_flight).sum(),
    }))
}

/// Completed and failed tasks per minute.
#[utoipa::path(
    get, path = "/api/v1/stats/throughput", tag = "system",
    params(ThroughputQuery),
    responses((status = 200, body = ThroughputResponse), (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody))
)]
pub async fn throughput(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<ThroughputQuery>,
) -> ApiResult<Json<ThroughputResponse>> {
    throughput_of(&state, &query).await.map(Json)
}

/// The throughput a query asks for (also streamed by `live.rs`).
pub(crate) async fn throughput_of(
    state: &HttpState,
    query: &ThroughputQuery,
) -> ApiResult<ThroughputResponse> {
    let minutes = param_in_range(
        "minutes",
        query.minutes.unwrap_or(60),
        MAX_THROUGHPUT_MINUTES,
    )?;
    let queues = match &query.queue {
        Some(queue) => {
            crate::error::validate_queue_name(queue)
                .map_err(|e| ApiError::bad_request(format!("query parameter `queue`: {e}")))?;
            vec![queue.clone()]
        }
        None => state.client.queues().await?,
    };
    let mut points: Vec<ThroughputPointDto> = Vec::new();
    for queue in &queues {
        let series = state.client.throughput(queue, minutes).await?;
        if points.is_empty() {
            points = series.into_iter().map(Into::into).collect();
            continue;
        }
        // Same window for every queue; add by minute in case a minute turned meanwhile.
        for p in series {
            match points.iter_mut().find(|q| q.minute_ms == p.minute_start_ms) {
                Some(q) => {
                    q.completed += p.completed;
                    q.failed += p.failed;
                }
                None => points.push(p.into()),
            }
        }
    }
    if points.is_empty() {
        let now_minute = unix_ms(SystemTime::now()) / 60_000;
        let first = now_minute + 1 - u64::from(minutes);
        points = (first..=now_minute)
            .map(|m| ThroughputPointDto {
                minute_ms: m * 60_000,
                completed: 0,
                failed: 0,
            })
            .collect();
    }
    points.sort_by_key(|p| p.minute_ms);
    let excess = points.len().saturating_sub(minutes as usize);
    points.drain(..excess);
    Ok(ThroughputResponse {
        queue: query.queue.clone(),
        points,
    })
}

/// The process is up (no dependency is checked).
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = HealthResponse)))]
pub async fn healthz(State(state): State<HttpState>) -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".into(),
        uptime_s: state.started.elapsed().as_secs(),
    })
}

/// Redis answers and (with a plugin directory) at least one plugin serves.
#[utoipa::path(
    get, path = "/readyz", tag = "system",
    responses((status = 200, body = ReadyResponse), (status = 503, description = "Not ready; `checks` says why", body = ReadyResponse))
)]
pub async fn readyz(State(state): State<HttpState>) -> (StatusCode, Json<ReadyResponse>) {
    let mut checks = BTreeMap::new();
    let redis = match tokio::time::timeout(PROBE_TIMEOUT, state.client.queues()).await {
        Ok(Ok(queues)) => CheckDto {
            ok: true,
            detail: format!("Redis answers ({} queues)", queues.len()),
        },
        Ok(Err(e)) => CheckDto {
            ok: false,
            detail: format!("Redis does not answer: {e}"),
        },
        Err(_) => CheckDto {
            ok: false,
            detail: format!("Redis did not answer within {PROBE_TIMEOUT:?}"),
        },
    };
    checks.insert("redis".to_owned(), redis);
    if let Some(registry) = &state.registry {
        let entries = registry.entries();
        let serving = entries.iter().filter(|e| e.is_serving()).count();
        let failed = entries.iter().filter(|e| e.error.is_some()).count();
        let check = if serving > 0 {
            CheckDto {
                ok: true,
                detail: format!("{serving} plugins serve ({failed} with load errors)"),
            }
        } else {
            CheckDto {
                ok: false,
                detail: format!(
                    "no plugin serves any task type ({failed} failed to load): put a \
                     <type>.wasm in the plugins directory or fix the errors at /api/v1/plugins"
                ),
            }
        };
        checks.insert("plugins".to_owned(), check);
    }
    let ready = checks.values().all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(ReadyResponse { ready, checks }))
}

/// Prometheus scrape. Queue gauges are refreshed from Redis first; if Redis
/// does not answer, `wasmq_broker_up` is 0 and the last values stay.
pub async fn metrics(State(state): State<HttpState>) -> Response {
    match tokio::time::timeout(PROBE_TIMEOUT, state.client.stats()).await {
        Ok(Ok(stats)) => {
            metrics::gauge!("wasmq_broker_up").set(1.0);
            // Live hosts serving each queue, for the "no host drains it" alert.
            let names: Vec<&str> = stats.iter().map(|q| q.queue.as_str()).collect();
            let serving = state.client.serving_hosts(&names);
            if let Ok(Ok(hosts)) = tokio::time::timeout(PROBE_TIMEOUT, serving).await {
                for (name, n) in names.iter().zip(hosts) {
                    metrics::gauge!("wasmq_queue_live_hosts", "queue" => name.to_string())
                        .set(n as f64);
                }
            }
            for q in stats.into_iter().map(QueueDto::from) {
                for (label, n) in q.sizes.by_state() {
                    metrics::gauge!("wasmq_queue_depth", "queue" => q.name.clone(), "state" => label)
                        .set(n as f64);
                }
                metrics::gauge!("wasmq_queue_paused", "queue" => q.name.clone()).set(if q.paused {
                    1.0
                } else {
                    0.0
                });
            }
        }
        Ok(Err(_)) | Err(_) => metrics::gauge!("wasmq_broker_up").set(0.0),
    }
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Any other path: a JSON 404 that points at the API description.
pub async fn fallback() -> ApiError {
    ApiError::not_found(
        "no such endpoint; the API is described at /api/v1/openapi.json and the dashboard is at /",
    )
}
