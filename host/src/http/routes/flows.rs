//! `/api/v1/flows`: enqueue a parent task that waits for other tasks, and
//! look a flow up.
//!
//! Thin like the other handlers: the broker checks the dependencies
//! (unknown ids, repeats, the 10 000 bound) and holds the parent; see
//! `broker/flows.rs`. A waiting parent is a task in state `waiting`:
//! `GET /api/v1/tasks/{id}` shows it and `POST /api/v1/tasks/{id}/cancel`
//! cancels it; `GET /api/v1/flows/{id}` adds its dependencies.

use crate::http::HttpState;
use crate::http::dto::{FlowDto, FlowRequest, FlowResponse};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::task::TaskId;
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
#[instrument(skip_all, fields(task_type = %request.parent.task_type))]
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

/// A flow parent and the state each dependency was counted in with.
#[utoipa::path(
    get, path = "/api/v1/flows/{id}", tag = "tasks",
    params(("id" = String, Path, description = "The parent's task id")),
    responses(
        (status = 200, body = FlowDto),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "No flow parent, or released more than 24 h ago", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(task_id = %id))]
pub async fn status(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FlowDto>> {
    let id: TaskId = id
        .parse()
        .map_err(|e| ApiError::bad_request(format!("path parameter `id`: {e}")))?;
    match state.client.flow(&id).await? {
        Some(flow) => Ok(Json(flow.into())),
        None => Err(ApiError::not_found(format!(
            "no flow {id}: the id is no flow parent, or it was released more than 24 h ago"
        ))),
    }
}
