//! Request and response bodies of `/api/v1/schedules`.
//!
//! The payload travels as JSON, like `POST /api/v1/tasks`, and is stored as
//! its JSON text; the definition is validated by `crate::schedule` before the
//! broker sees it, so the API and the CLI refuse the same input with the same
//! message.

use crate::broker::ScheduleInfo;
use crate::schedule::ScheduleDef;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A schedule to add.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// The schedule's name: 1 to 64 of A-Z a-z 0-9 `_` `.` `-`.
    pub name: String,
    /// Five-field cron expression, e.g. `0 3 * * *`.
    pub cron: String,
    /// IANA time zone the expression is read in (default UTC).
    pub tz: Option<String>,
    /// The task type each fire enqueues.
    #[serde(rename = "type")]
    pub task_type: String,
    /// The payload of every fire's task, any JSON value (default empty).
    pub payload: Option<Value>,
    /// Fire once on start for a fire missed while no host ran (default false: skip).
    #[serde(default)]
    pub catch_up: bool,
}

impl ScheduleRequest {
    /// The definition this request asks for (not yet validated).
    pub fn into_def(self) -> ScheduleDef {
        ScheduleDef {
            name: self.name,
            cron: self.cron,
            tz: self.tz,
            task_type: self.task_type,
            payload: self
                .payload
                .map(|v| v.to_string().into_bytes())
                .unwrap_or_default(),
            catch_up: self.catch_up,
        }
    }
}

/// A schedule and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleDto {
    /// Its name.
    pub name: String,
    /// Its cron expression.
    pub cron: String,
    /// Its time zone.
    pub tz: String,
    /// The task type it enqueues.
    #[serde(rename = "type")]
    pub task_type: String,
    /// The payload, as text.
    pub payload: String,
    /// Whether a fire missed while no host ran fires once on start.
    pub catch_up: bool,
    /// Whether it is paused.
    pub paused: bool,
    /// Its next fire, Unix ms (none while paused).
    pub next_fire_ms: Option<u64>,
    /// Its last fire that enqueued a task, Unix ms.
    pub last_fire_ms: Option<u64>,
    /// How many fires enqueued a task.
    pub fires: u64,
    /// The id of the last task it enqueued.
    pub last_task: Option<String>,
}

impl From<ScheduleInfo> for ScheduleDto {
    fn from(s: ScheduleInfo) -> Self {
        Self {
            name: s.def.name,
            cron: s.def.cron,
            tz: s.def.tz.unwrap_or_else(|| "UTC".into()),
            task_type: s.def.task_type,
            payload: String::from_utf8_lossy(&s.def.payload).into_owned(),
            catch_up: s.def.catch_up,
            paused: s.paused,
            next_fire_ms: s.next_fire_ms,
            last_fire_ms: s.last_fire_ms,
            fires: s.fires,
            last_task: s.last_task,
        }
    }
}

/// `GET /api/v1/schedules`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchedulesResponse {
    /// Every schedule, by name.
    pub schedules: Vec<ScheduleDto>,
}

/// The answer to add, remove, pause and resume.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleChanged {
    /// The schedule.
    pub name: String,
    /// Whether it is paused now (false after add and remove).
    pub paused: bool,
    /// Whether it was removed.
    pub removed: bool,
    /// Its next fire, Unix ms, after add and resume.
    pub next_fire_ms: Option<u64>,
}
