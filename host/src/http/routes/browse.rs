//! `/api/v1/queues/{queue}/tasks`: the task browser. A page of a queue's
//! tasks in one state, and actions on a selection of them or on all of the
//! state. State, cursor, limit and ids are checked here, before the broker
//! is called.

use crate::broker::{MAX_PAGE, MAX_SELECTION, Selection, TaskAction, TaskCursor, browse_state};
use crate::error::validate_queue_name;
use crate::http::HttpState;
use crate::http::dto::{TaskActionRequest, TaskActionResponse, TaskPageResponse, TasksQuery};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, param_in_range};
use crate::task::{TaskId, TaskState, unix_ms};
use axum::Json;
use axum::extract::State;
use std::time::SystemTime;

/// Default page size of the task browser.
pub const DEFAULT_TASK_LIMIT: u64 = 50;

fn queue_name(queue: &str) -> ApiResult<()> {
    validate_queue_name(queue)
        .map_err(|e| ApiError::bad_request(format!("path parameter `queue`: {e}")))
}

fn state_of(text: Option<&str>, field: &str) -> ApiResult<TaskState> {
    let text = text.ok_or_else(|| {
        ApiError::bad_request(format!(
            "{field} is required: one of pending, scheduled, active, retry, dead, completed, \
             cancelled"
        ))
    })?;
    browse_state(text).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

/// A page of a queue's tasks in one state.
#[utoipa::path(
    get, path = "/api/v1/queues/{queue}/tasks", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name"), TasksQuery),
    responses((status = 200, body = TaskPageResponse),
              (status = 400, description = "Bad queue, state, cursor or limit", body = ErrorBody),
              (status = 503, body = ErrorBody))
)]
pub async fn list(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
    ApiQuery(query): ApiQuery<TasksQuery>,
) -> ApiResult<Json<TaskPageResponse>> {
    queue_name(&queue)?;
    let task_state = state_of(query.state.as_deref(), "query parameter `state`")?;
    let limit = param_in_range("limit", query.limit.unwrap_or(DEFAULT_TASK_LIMIT), MAX_PAGE)?;
    let cursor = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| c.parse::<TaskCursor>())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("query parameter `cursor`: {e}")))?;
    if let Some(c) = cursor.filter(|c| !c.fits(task_state)) {
        return Err(ApiError::bad_request(format!(
            "query parameter `cursor`: {c} continues a page of another state than {task_state}; \
             start again without a cursor"
        )));
    }
    let page = state
        .client
        .list_tasks(&queue, task_state, cursor, limit)
        .await?;
    Ok(Json(TaskPageResponse::new(
        queue,
        limit,
        unix_ms(SystemTime::now()),
        page,
    )))
}

/// Retry, delete, cancel or promote tasks of a queue in one state.
#[utoipa::path(
    post, path = "/api/v1/queues/{queue}/tasks/actions", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    request_body = TaskActionRequest,
    responses((status = 200, body = TaskActionResponse),
              (status = 400, description = "Bad action, state, ids, or an action the state does not allow", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn act(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
    ApiJson(request): ApiJson<TaskActionRequest>,
) -> ApiResult<Json<TaskActionResponse>> {
    queue_name(&queue)?;
    let action: TaskAction = request
        .action
        .parse()
        .map_err(|e| ApiError::bad_request(format!("`action`: {e}")))?;
    let task_state = state_of(Some(&request.state), "`state`")?;
    let selection = match (request.ids, request.all) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "send either `ids` or `all: true`, not both",
            ));
        }
        (None, false) => {
            return Err(ApiError::bad_request(format!(
                "say which tasks: `ids` (1 to {MAX_SELECTION} ids of queue {queue:?}) or \
                 `all: true` for every task of the state"
            )));
        }
        (None, true) => Selection::All,
        (Some(ids), false) => {
            if ids.is_empty() || ids.len() > MAX_SELECTION {
                return Err(ApiError::bad_request(format!(
                    "`ids` holds {} ids; send 1 to {MAX_SELECTION}, or `all: true`",
                    ids.len()
                )));
            }
            let ids = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    id.parse::<TaskId>()
                        .map_err(|e| ApiError::bad_request(format!("`ids[{i}]`: {e}")))
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Selection::Ids(ids)
        }
    };
    let report = state
        .client
        .act_on_tasks(&queue, task_state, action, selection.clone())
        .await?;
    tracing::info!(
        %queue,
        %action,
        state = %task_state,
        all = matches!(selection, Selection::All),
        done = report.done,
        "task browser action through the HTTP API"
    );
    Ok(Json(TaskActionResponse::new(
        action.as_str(),
        task_state.as_str(),
        report,
    )))
}
