//! `/api/v1/queues` and `/api/v1/dead`: queue sizes, pausing, removing an
//! empty queue, and the dead-letter set.

use crate::broker::{BULK_LIMIT, DeadSelector, QueueRemoval};
use crate::error::validate_queue_name;
use crate::http::HttpState;
use crate::http::dto::{
    DeadActionRequest, DeadListResponse, DeadQuery, DeadTaskDto, PauseResponse, PurgeResponse,
    QueueDto, QueuesResponse, RemoveQueueResponse, RequeueResponse,
};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, param_in_range};
use crate::task::{TaskId, unix_ms};
use axum::Json;
use axum::extract::State;
use std::time::SystemTime;

/// Default page size of the dead list.
pub const DEFAULT_DEAD_LIMIT: u64 = 50;
/// Largest page size of the dead list.
pub const MAX_DEAD_LIMIT: u64 = 500;

/// Sizes per state, paused flag, counters and serving hosts of every queue.
#[utoipa::path(
    get, path = "/api/v1/queues", tag = "queues",
    responses((status = 200, body = QueuesResponse), (status = 503, body = ErrorBody))
)]
pub async fn list(State(state): State<HttpState>) -> ApiResult<Json<QueuesResponse>> {
    let stats = state.client.stats().await?;
    let names: Vec<&str> = stats.iter().map(|q| q.queue.as_str()).collect();
    let hosts = state.client.serving_hosts(&names).await?;
    Ok(Json(QueuesResponse {
        queues: stats
            .into_iter()
            .zip(hosts)
            .map(|(stats, n)| QueueDto {
                live_hosts: Some(n),
                ..QueueDto::from(stats)
            })
            .collect(),
    }))
}

/// Remove an empty queue: its keys, counters, kept results and its name.
#[utoipa::path(
    delete, path = "/api/v1/queues/{queue}", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    responses((status = 200, body = RemoveQueueResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 409, description = "The queue holds tasks; nothing was removed", body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
) -> ApiResult<Json<RemoveQueueResponse>> {
    queue_name(&queue)?;
    match state.client.remove_queue(&queue).await? {
        QueueRemoval::Removed => {
            tracing::info!(%queue, "queue removed through the HTTP API");
            Ok(Json(RemoveQueueResponse {
                queue,
                removed: true,
            }))
        }
        QueueRemoval::NotFound => Err(ApiError::not_found(format!(
            "there is no queue {queue:?}; GET /api/v1/queues lists them"
        ))),
        QueueRemoval::NotEmpty(left) => Err(ApiError::conflict(format!(
            "queue {queue:?} is not empty: it holds {}; nothing was removed. Let its tasks \
             finish, or cancel them and purge its dead tasks, then try again",
            left.describe()
        ))),
    }
}

fn queue_name(queue: &str) -> ApiResult<()> {
    validate_queue_name(queue)
        .map_err(|e| ApiError::bad_request(format!("path parameter `queue`: {e}")))
}

/// Stop leasing from a queue (tasks still enqueue).
#[utoipa::path(
    post, path = "/api/v1/queues/{queue}/pause", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    responses((status = 200, body = PauseResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn pause(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
) -> ApiResult<Json<PauseResponse>> {
    queue_name(&queue)?;
    state.client.pause(&queue).await?;
    tracing::info!(%queue, "queue paused through the HTTP API");
    Ok(Json(PauseResponse {
        queue,
        paused: true,
    }))
}

/// Resume leasing from a paused queue.
#[utoipa::path(
    post, path = "/api/v1/queues/{queue}/resume", tag = "queues",
    params(("queue" = String, Path, description = "Queue (task type) name")),
    responses((status = 200, body = PauseResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn resume(
    State(state): State<HttpState>,
    ApiPath(queue): ApiPath<String>,
) -> ApiResult<Json<PauseResponse>> {
    queue_name(&queue)?;
    state.client.resume(&queue).await?;
    tracing::info!(%queue, "queue resumed through the HTTP API");
    Ok(Json(PauseResponse {
        queue,
        paused: false,
    }))
}

/// A page of dead tasks, newest first, of one queue or of all.
#[utoipa::path(
    get, path = "/api/v1/dead", tag = "dead",
    params(DeadQuery),
    responses((status = 200, body = DeadListResponse), (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody))
)]
pub async fn list_dead(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<DeadQuery>,
) -> ApiResult<Json<DeadListResponse>> {
    let offset = query.offset.unwrap_or(0);
    let limit = param_in_range(
        "limit",
        query.limit.unwrap_or(DEFAULT_DEAD_LIMIT),
        MAX_DEAD_LIMIT,
    )?;
    let (total, tasks) = match query.queue {
        Some(queue) => {
            validate_queue_name(&queue)
                .map_err(|e| ApiError::bad_request(format!("query parameter `queue`: {e}")))?;
            let page = state.client.list_dead(&queue, offset, limit).await?;
            (page.total, page.tasks)
        }
        None => {
            // Merge the newest `offset + limit` of every queue, then cut the page.
            let depth = offset + limit;
            if depth > BULK_LIMIT as u64 {
                return Err(ApiError::bad_request(format!(
                    "`offset` + `limit` is {depth}; across all queues pages reach at most \
                     {BULK_LIMIT} deep: add `queue=<name>` to page further"
                )));
            }
            let mut total = 0;
            let mut all = Vec::new();
            for queue in state.client.queues().await? {
                let page = state.client.list_dead(&queue, 0, depth).await?;
                total += page.total;
                all.extend(page.tasks);
            }
            all.sort_by(|a, b| {
                b.died_at_ms
                    .cmp(&a.died_at_ms)
                    .then_with(|| a.id.cmp(&b.id))
            });
            let page = all
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect();
            (total, page)
        }
    };
    Ok(Json(DeadListResponse {
        total,
        offset,
        limit,
        now_ms: unix_ms(SystemTime::now()),
        tasks: tasks.into_iter().map(DeadTaskDto::from).collect(),
    }))
}

/// Turns the action body into a selector, refusing ambiguous bodies.
fn selector(request: DeadActionRequest) -> ApiResult<DeadSelector> {
    let DeadActionRequest { queue, id, all } = request;
    if all && (queue.is_some() || id.is_some()) {
        return Err(ApiError::bad_request(
            "`all: true` selects every dead task; do not combine it with `queue` or `id`",
        ));
    }
    match (queue, id) {
        (queue, Some(id)) => {
            let id: TaskId = id
                .parse()
                .map_err(|e| ApiError::bad_request(format!("`id`: {e}")))?;
            if let Some(queue) = queue.filter(|q| q != id.queue()) {
                return Err(ApiError::bad_request(format!(
                    "`queue` is {queue:?} but task {id} belongs to queue {:?}; omit `queue` or \
                     make them agree",
                    id.queue()
                )));
            }
            Ok(DeadSelector::One(id))
        }
        (Some(queue), None) => {
            validate_queue_name(&queue)
                .map_err(|e| ApiError::bad_request(format!("`queue`: {e}")))?;
            Ok(DeadSelector::Queue(queue))
        }
        (None, None) if all => Ok(DeadSelector::All),
        (None, None) => Err(ApiError::bad_request(
            "say which dead tasks: `{\"id\": \"<queue>:<id>\"}` for one, `{\"queue\": \"<name>\"}` \
             for a queue, or `{\"all\": true}` for every queue",
        )),
    }
}

fn not_dead(which: &DeadSelector) -> Option<ApiError> {
    match which {
        DeadSelector::One(id) => Some(ApiError::not_found(format!(
            "task {id} is not in the dead-letter set of queue {:?} (already re-driven, purged, \
             trimmed, or never dead)",
            id.queue()
        ))),
        _ => None,
    }
}

/// Re-drive dead tasks: back to pending with a fresh attempt count.
#[utoipa::path(
    post, path = "/api/v1/dead/retry", tag = "dead",
    request_body = DeadActionRequest,
    responses((status = 200, body = RequeueResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn retry_dead(
    State(state): State<HttpState>,
    ApiJson(request): ApiJson<DeadActionRequest>,
) -> ApiResult<Json<RequeueResponse>> {
    let which = selector(request)?;
    let report = state.client.requeue_dead(which.clone()).await?;
    if report.requeued + report.dropped == 0
        && let Some(e) = not_dead(&which)
    {
        return Err(e);
    }
    tracing::info!(
        ?which,
        requeued = report.requeued,
        "dead tasks re-driven through the HTTP API"
    );
    Ok(Json(RequeueResponse {
        requeued: report.requeued,
        dropped: report.dropped,
    }))
}

/// Delete dead tasks for good.
#[utoipa::path(
    post, path = "/api/v1/dead/purge", tag = "dead",
    request_body = DeadActionRequest,
    responses((status = 200, body = PurgeResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn purge_dead(
    State(state): State<HttpState>,
    ApiJson(request): ApiJson<DeadActionRequest>,
) -> ApiResult<Json<PurgeResponse>> {
    let which = selector(request)?;
    let purged = state.client.purge_dead(which.clone()).await?;
    if purged == 0
        && let Some(e) = not_dead(&which)
    {
        return Err(e);
    }
    tracing::info!(?which, purged, "dead tasks purged through the HTTP API");
    Ok(Json(PurgeResponse { purged }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(queue: Option<&str>, id: Option<&str>, all: bool) -> DeadActionRequest {
        DeadActionRequest {
            queue: queue.map(str::to_owned),
            id: id.map(str::to_owned),
            all,
        }
    }

    #[test]
    fn selectors() {
        assert!(matches!(
            selector(req(None, Some("q:1"), false)),
            Ok(DeadSelector::One(_))
        ));
        assert!(matches!(
            selector(req(Some("q"), Some("q:1"), false)),
            Ok(DeadSelector::One(_))
        ));
        assert!(matches!(
            selector(req(Some("q"), None, false)),
            Ok(DeadSelector::Queue(_))
        ));
        assert!(matches!(
            selector(req(None, None, true)),
            Ok(DeadSelector::All)
        ));
        let err = selector(req(None, None, false)).unwrap_err();
        assert!(err.message.contains("say which"), "{}", err.message);
        let err = selector(req(Some("other"), Some("q:1"), false)).unwrap_err();
        assert!(err.message.contains("belongs to queue"), "{}", err.message);
        assert!(selector(req(Some("q"), None, true)).is_err());
        assert!(selector(req(Some("a b"), None, false)).is_err());
        assert!(selector(req(None, Some("nocolon"), false)).is_err());
    }
}
