//! `GET /api/v1/costs`: the per-plugin cost panel. What each task type's
//! plugin versions cost over the last hour (p50/p95/p99 of wall time, fuel
//! and peak memory), read from the cost histograms the settle scripts keep
//! in Redis (`broker/costs.rs`), so every host's runs are in it, and the
//! newest version compared with the one before it. Prometheus has the
//! same measures per host as `wasmq_task_duration_seconds`,
//! `wasmq_task_fuel_used` and `wasmq_task_peak_memory_bytes`, labelled with
//! `task_type` and `plugin_version`.
//!
//! Without `queue`, the queues are read [`READ_AT_ONCE`] at a time and at
//! most [`MAX_QUEUES`] of them, so one request's cost is bounded however
//! many queues a namespace has.

use crate::error::validate_queue_name;
use crate::http::HttpState;
use crate::http::dto::{CostsQuery, CostsResponse, TaskTypeCostDto};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::ApiQuery;
use axum::Json;
use axum::extract::State;
use futures::{StreamExt, TryStreamExt};

/// Queues one request reads at most.
pub const MAX_QUEUES: usize = 500;
/// Queues read at once.
const READ_AT_ONCE: usize = 16;

/// What each plugin version cost over the last hour.
#[utoipa::path(
    get, path = "/api/v1/costs", tag = "system",
    params(CostsQuery),
    responses((status = 200, body = CostsResponse), (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody))
)]
pub async fn list(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<CostsQuery>,
) -> ApiResult<Json<CostsResponse>> {
    let mut queues = match query.queue {
        Some(queue) => {
            validate_queue_name(&queue)
                .map_err(|e| ApiError::bad_request(format!("query parameter `queue`: {e}")))?;
            vec![queue]
        }
        None => state.client.queues().await?,
    };
    // `queues()` lists them in name order.
    let queues_not_read = queues.len().saturating_sub(MAX_QUEUES);
    queues.truncate(MAX_QUEUES);
    let client = &state.client;
    let read: Vec<_> = futures::stream::iter(queues)
        .map(|queue| async move {
            let versions = client.plugin_costs(&queue).await?;
            Ok::<_, ApiError>((queue, versions))
        })
        .buffered(READ_AT_ONCE)
        .try_collect()
        .await?;
    let task_types = read
        .into_iter()
        .filter(|(_, versions)| !versions.is_empty())
        .map(|(queue, versions)| TaskTypeCostDto::new(queue, versions))
        .collect();
    Ok(Json(CostsResponse {
        task_types,
        queues_not_read,
    }))
}
