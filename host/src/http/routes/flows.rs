//! `/api/v1/flows`: enqueue a parent task that waits for other tasks.
//!
//! Thin like the other handlers: the broker checks the dependencies
//! (unknown ids, repeats, the 10 000 bound) and holds the parent; see
//! `broker/flows.rs`. Looking a flow up goes through `wasmq status` (the
//! tree); over HTTP the parent is an ordinary task once released.

use crate::http::HttpState;
use crate::http::dto::{FlowRequest, FlowResponse};
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tracing::instrument;

/// Enqueue a flow: a parent task that runs once every task of `after` has
/// completed, died or been cancelled.
#[utoipa::path(
    post, path = "/api/v1/flows", tag = "tasks",
    request_body = FlowRequest,
    responses(
        (status = 201, description = "The parent is held until its dependencies settled (or pending already)", body = FlowResponse),
        (status = 400, description = "Invalid field, unknown or repeated dependency, too many dependencies", body = ErrorBody),
        (status = 401, description = "Token missing or wrong", body = ErrorBody),
        (status = 413, description = "Body or payload too large", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[instrument(skip_all, fields(kind = %request.parent.task_type))]
pub async fn enqueue(
    State(state): State<HttpState>,
    ApiJson(request): ApiJson<FlowRequest>,
) -> ApiResult<(StatusCode, Json<FlowResponse>)> {
    let flow = request.into_flow()?;
    let id = state.client.enqueue_flow(flow).await?;
    Ok((
        StatusCode::CREATED,
        Json(FlowResponse { id: id.to_string() }),
    ))
}
