//! `/api/v1/schedules`: cron schedules over HTTP, the same operations as
//! `wasmq schedule`. Bodies and path names are validated by
//! `crate::schedule` before the broker is called: 400 names the field, 404
//! a missing schedule, 409 a taken name.

use crate::broker::ScheduleToggle;
use crate::http::HttpState;
use crate::http::dto::{ScheduleChanged, ScheduleDto, ScheduleRequest, SchedulesResponse};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath};
use crate::schedule::{Schedule, validate_schedule_name};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

/// List the schedules with their next fire.
#[utoipa::path(
    get, path = "/api/v1/schedules", tag = "schedules",
    responses((status = 200, body = SchedulesResponse), (status = 503, body = ErrorBody))
)]
pub async fn list(State(state): State<HttpState>) -> ApiResult<Json<SchedulesResponse>> {
    let schedules = state.client.schedules().await?;
    Ok(Json(SchedulesResponse {
        schedules: schedules.into_iter().map(ScheduleDto::from).collect(),
    }))
}

/// Add a schedule.
#[utoipa::path(
    post, path = "/api/v1/schedules", tag = "schedules",
    request_body = ScheduleRequest,
    responses((status = 201, body = ScheduleChanged),
              (status = 400, description = "Invalid field, named in the message", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn add(
    State(state): State<HttpState>,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<(StatusCode, Json<ScheduleChanged>)> {
    let limit = state.client.options().max_payload_bytes;
    let schedule = Schedule::new(request.into_def(), limit)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = schedule.def().name.clone();
    let Some(next) = state.client.schedule_add(&schedule).await? else {
        return Err(ApiError::conflict(format!(
            "schedule {name:?} already exists; DELETE /api/v1/schedules/{name} first"
        )));
    };
    tracing::info!(schedule = %name, "schedule added through the HTTP API");
    Ok((
        StatusCode::CREATED,
        Json(ScheduleChanged {
            name,
            paused: false,
            removed: false,
            next_fire_ms: Some(next),
        }),
    ))
}

fn schedule_name(name: &str) -> ApiResult<()> {
    validate_schedule_name(name)
        .map_err(|e| ApiError::bad_request(format!("path parameter `name`: {e}")))
}

fn missing(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "there is no schedule {name:?}; GET /api/v1/schedules lists them"
    ))
}

/// Remove a schedule (tasks it enqueued stay).
#[utoipa::path(
    delete, path = "/api/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 200, body = ScheduleChanged), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<HttpState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ScheduleChanged>> {
    schedule_name(&name)?;
    if !state.client.schedule_remove(&name).await? {
        return Err(missing(&name));
    }
    tracing::info!(schedule = %name, "schedule removed through the HTTP API");
    Ok(Json(ScheduleChanged {
        name,
        paused: false,
        removed: true,
        next_fire_ms: None,
    }))
}

async fn toggle(state: HttpState, name: String, pause: bool) -> ApiResult<Json<ScheduleChanged>> {
    schedule_name(&name)?;
    if state.client.schedule_pause(&name, pause).await? == ScheduleToggle::Missing {
        return Err(missing(&name));
    }
    let next_fire_ms = state
        .client
        .schedules()
        .await?
        .into_iter()
        .find(|s| s.def.name == name)
        .and_then(|s| s.next_fire_ms);
    Ok(Json(ScheduleChanged {
        name,
        paused: pause,
        removed: false,
        next_fire_ms,
    }))
}

/// Stop a schedule firing.
#[utoipa::path(
    post, path = "/api/v1/schedules/{name}/pause", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 200, body = ScheduleChanged), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn pause(
    State(state): State<HttpState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ScheduleChanged>> {
    toggle(state, name, true).await
}

/// Fire a paused schedule again, from its next match after now.
#[utoipa::path(
    post, path = "/api/v1/schedules/{name}/resume", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 200, body = ScheduleChanged), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn resume(
    State(state): State<HttpState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ScheduleChanged>> {
    toggle(state, name, false).await
}
