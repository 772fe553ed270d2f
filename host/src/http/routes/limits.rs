//! `/api/v1/queues/{queue}/limits`: a queue's rate limit and global
//! concurrency cap, stored in Redis and enforced by every host's lease
//! script (see `broker/limits.rs` for the precedence over manifests).

use crate::http::HttpState;
use crate::http::dto::{LimitsRequest, LimitsResponse};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::ratelimit::QueueLimits;
use axum::Json;
use axum::extract::State;

/// The limits of a queue as stored in Redis, and any throttle in force.
#[utoipa::path(
    get, path = "/api/v1/queues/{queue}/limits", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    responses((status = 200, body = LimitsResponse), (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody))
)]
pub async fn get(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
) -> ApiResult<Json<LimitsResponse>> {
    queue_name(&queue)?;
    respond(&state, queue).await
}

/// Replace a queue's limits (on every host, at once).
#[utoipa::path(
    put, path = "/api/v1/queues/{queue}/limits", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    request_body = LimitsRequest,
    responses((status = 200, body = LimitsResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn put(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
    ApiJson(body): ApiJson<LimitsRequest>,
) -> ApiResult<Json<LimitsResponse>> {
    queue_name(&queue)?;
    let limits = QueueLimits::from_parts(body.rate.as_deref(), body.burst, body.concurrency)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    state.client.set_limits(&queue, &limits).await?;
    tracing::info!(task_type = %queue, %limits, "queue limits set through the HTTP API");
    respond(&state, queue).await
}

/// Remove a queue's limits: the plugin manifest's defaults apply again.
#[utoipa::path(
    delete, path = "/api/v1/queues/{queue}/limits", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    responses((status = 200, body = LimitsResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
) -> ApiResult<Json<LimitsResponse>> {
    queue_name(&queue)?;
    state.client.clear_limits(&queue).await?;
    tracing::info!(task_type = %queue, "queue limits cleared through the HTTP API");
    respond(&state, queue).await
}

async fn respond(state: &HttpState, queue: String) -> ApiResult<Json<LimitsResponse>> {
    let stored = state.client.limits(&queue).await?;
    let throttled = state.client.throttled_for(&queue).await?;
    Ok(Json(LimitsResponse::new(queue, stored, throttled)))
}

fn queue_name(queue: &str) -> ApiResult<()> {
    crate::error::validate_queue_name(queue)
        .map_err(|e| ApiError::bad_request(format!("path parameter `queue`: {e}")))
}
