//! `/api/v1/tasks`: enqueue, look up, fetch results, cancel.

use crate::broker::CancelOutcome;
use crate::http::HttpState;
use crate::http::dto::{
    BatchResponse, CancelResponse, EnqueueRequest, EnqueueResponse, TaskResultDto, TaskRunsDto,
    TaskStatusDto, outcome_name,
};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::task::TaskId;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tracing::instrument;

/// Most tasks in one batch request.
pub const MAX_BATCH_TASKS: usize = 10_000;

/// Parses a task id from the path, saying what a valid one looks like.
fn task_id(text: &str) -> ApiResult<TaskId> {
    text.parse::<TaskId>()
        .map_err(|e| ApiError::bad_request(format!("path parameter `id`: {e}")))
}

/// Records the task's id and type on the current span.
fn record_task(id: &TaskId) {
    let span = tracing::Span::current();
    span.record("task_id", tracing::field::display(id));
    span.record("task_type", id.queue());
}

/// Enqueue one task.
#[utoipa::path(
    post, path = "/api/v1/tasks", tag = "tasks",
    request_body = EnqueueRequest,
    responses(
        (status = 201, description = "Enqueued (or, with a held unique key, the existing task)", body = EnqueueResponse),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Token missing or wrong", body = ErrorBody),
        (status = 413, description = "Body or payload too large", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[instrument(skip_all, fields(task_id, task_type = %request.task_type))]
pub async fn enqueue(
    State(state): State<HttpState>,
    ApiJson(request): ApiJson<EnqueueRequest>,
) -> ApiResult<(StatusCode, Json<EnqueueResponse>)> {
    let spec = request.into_spec("")?;
    let id = state.client.enqueue(spec).await?;
    record_task(&id);
    Ok((
        StatusCode::CREATED,
        Json(EnqueueResponse { id: id.to_string() }),
    ))
}

/// Enqueue many tasks (any mix of types) in one request.
#[utoipa::path(
    post, path = "/api/v1/tasks/batch", tag = "tasks",
    request_body = Vec<EnqueueRequest>,
    responses(
        (status = 201, description = "Ids in request order", body = BatchResponse),
        (status = 400, description = "Invalid task; the message names its index", body = ErrorBody),
        (status = 401, description = "Token missing or wrong", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn enqueue_batch(
    State(state): State<HttpState>,
    ApiJson(requests): ApiJson<Vec<EnqueueRequest>>,
) -> ApiResult<(StatusCode, Json<BatchResponse>)> {
    if requests.is_empty() {
        return Err(ApiError::bad_request(
            "the batch is empty: send a JSON array of one or more tasks",
        ));
    }
    if requests.len() > MAX_BATCH_TASKS {
        return Err(ApiError::bad_request(format!(
            "the batch has {} tasks, above the limit of {MAX_BATCH_TASKS}; split it",
            requests.len()
        )));
    }
    let specs = requests
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.into_spec(&format!("[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let ids = state.client.enqueue_many(specs).await?;
    Ok((
        StatusCode::CREATED,
        Json(BatchResponse {
            ids: ids.iter().map(ToString::to_string).collect(),
        }),
    ))
}

/// Where a task is and what is known about it.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "Task id, `<queue>:<local id>`")),
    responses(
        (status = 200, body = TaskStatusDto),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown, or finished and its record expired", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(task_id, task_type))]
pub async fn status(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskStatusDto>> {
    let id = task_id(&id)?;
    record_task(&id);
    match state.client.status(&id).await? {
        Some(status) => Ok(Json(status.into())),
        None => Err(not_found(&id)),
    }
}

fn not_found(id: &TaskId) -> ApiError {
    ApiError::not_found(format!(
        "no task {id}: it was never enqueued, or it finished and its record expired (results \
         are kept for the broker's result TTL)"
    ))
}

/// The output of a completed task.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/result", tag = "tasks",
    params(("id" = String, Path, description = "Task id, `<queue>:<local id>`")),
    responses(
        (status = 200, body = TaskResultDto),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "Unknown task", body = ErrorBody),
        (status = 409, description = "The task has not completed", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(task_id, task_type))]
pub async fn result(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskResultDto>> {
    let id = task_id(&id)?;
    record_task(&id);
    if let Some(result) = state.client.result(&id).await? {
        return Ok(Json(result.into()));
    }
    match state.client.status(&id).await? {
        Some(status) => Err(ApiError::conflict(format!(
            "task {id} is {}: a result exists only once it has completed; poll \
             /api/v1/tasks/{id} for its state",
            status.state
        ))),
        None => Err(not_found(&id)),
    }
}

/// Every kept attempt of a task with its cost and log, and its progress.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}/runs", tag = "tasks",
    params(("id" = String, Path, description = "Task id, `<queue>:<local id>`")),
    responses(
        (status = 200, description = "The run history (empty before the first run ends)", body = TaskRunsDto),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    )
)]
#[instrument(skip_all, fields(task_id, task_type))]
pub async fn runs(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskRunsDto>> {
    let id = task_id(&id)?;
    record_task(&id);
    let runs = state.client.task_runs(&id).await?;
    Ok(Json(TaskRunsDto::new(id.to_string(), runs)))
}

/// Cancel a task: at once if it has not started, by asking its host if it runs.
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks",
    params(("id" = String, Path, description = "Task id, `<queue>:<local id>`")),
    responses(
        (status = 200, description = "Cancelled: it will not run", body = CancelResponse),
        (status = 202, description = "Running: its host was asked to stop it", body = CancelResponse),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Token missing or wrong", body = ErrorBody),
        (status = 404, description = "Unknown task", body = ErrorBody),
        (status = 409, description = "Already finished or dead", body = ErrorBody),
        (status = 503, description = "Redis unreachable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[instrument(skip_all, fields(task_id, task_type))]
pub async fn cancel(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CancelResponse>)> {
    let id = task_id(&id)?;
    record_task(&id);
    let outcome = state.client.cancel(&id).await?;
    let status = match outcome {
        CancelOutcome::Cancelled => StatusCode::OK,
        CancelOutcome::Requested => StatusCode::ACCEPTED,
        CancelOutcome::NotFound => return Err(not_found(&id)),
        CancelOutcome::AlreadyDead => {
            return Err(ApiError::conflict(format!(
                "task {id} is already dead; purge it with POST /api/v1/dead/purge instead"
            )));
        }
        CancelOutcome::AlreadyFinished => {
            return Err(ApiError::conflict(format!(
                "task {id} already finished (completed or cancelled); there is nothing to cancel"
            )));
        }
    };
    Ok((
        status,
        Json(CancelResponse {
            id: id.to_string(),
            outcome: outcome_name(outcome).to_owned(),
        }),
    ))
}

/// `DELETE /api/v1/tasks/{id}`: the same as `POST .../cancel`.
#[utoipa::path(
    delete, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "Task id, `<queue>:<local id>`")),
    responses(
        (status = 200, description = "Cancelled", body = CancelResponse),
        (status = 202, description = "Running: its host was asked to stop it", body = CancelResponse),
        (status = 404, description = "Unknown task", body = ErrorBody),
        (status = 409, description = "Already finished or dead", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: State<HttpState>,
    id: ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CancelResponse>)> {
    cancel(state, id).await
}
