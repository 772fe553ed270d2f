//! A schedule's definition, its validation, and what a due fire does.
//!
//! Every check runs here, at the edge (CLI flags, HTTP bodies, and again when
//! the broker reads a stored definition), so nothing malformed reaches Redis
//! and each message names the field, what was wrong and what to give instead.

use super::CronSchedule;
use crate::error::{ValidationError, is_name_char, validate_queue_name};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;

/// Longest accepted schedule name, in bytes.
pub const MAX_SCHEDULE_NAME_LEN: usize = 64;

/// A fire due longer ago than this was missed (no host ran when it was
/// due): it fires once on start when the schedule has `catch_up`, and is
/// skipped otherwise. Hosts look for due fires every second, so a fire is
/// never this late while any host runs.
pub const MISSED_AFTER: Duration = Duration::from_secs(60);

/// A schedule refused before anything reaches Redis.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// A schedule name with a forbidden character or length.
    #[error(
        "invalid schedule name {name:?}: {reason}; a schedule name is 1 to 64 characters from \
         A-Z, a-z, 0-9, '_', '.' and '-'"
    )]
    Name {
        /// The rejected name.
        name: String,
        /// What exactly is wrong with it.
        reason: String,
    },
    /// A cron expression croner does not accept, or one that never fires.
    #[error(
        "invalid cron expression {expr:?} (`cron`): {reason}; give five fields, minute hour \
         day-of-month month day-of-week, for example \"0 3 * * *\" for 03:00 every day"
    )]
    Cron {
        /// The rejected expression.
        expr: String,
        /// croner's message.
        reason: String,
    },
    /// A time zone that is not in the IANA database.
    #[error(
        "unknown time zone {tz:?} (`tz`): give an IANA zone name such as \"Europe/Berlin\" or \
         \"UTC\""
    )]
    TimeZone {
        /// The rejected zone.
        tz: String,
    },
    /// The task type, or the payload, is not one the broker accepts.
    #[error("{0}")]
    Task(#[from] ValidationError),
}

/// A schedule as stored: enqueue a `task_type` task with `payload` on every
/// match of `cron` in `tz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDef {
    /// The schedule's name, unique in its namespace.
    pub name: String,
    /// The cron expression, five fields.
    pub cron: String,
    /// The IANA time zone it is read in; `None`: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// The task type (queue) each fire enqueues to.
    #[serde(rename = "type")]
    pub task_type: String,
    /// The payload of every fire's task (stored base64).
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    /// Whether a fire missed while no host ran fires once on start (true)
    /// or is skipped (false).
    #[serde(default)]
    pub catch_up: bool,
}

impl ScheduleDef {
    /// Checks every field; `max_payload` is the broker's payload limit.
    /// Returns the parsed expression.
    pub fn validate(&self, max_payload: usize) -> Result<CronSchedule, ScheduleError> {
        validate_schedule_name(&self.name)?;
        let cron = CronSchedule::parse(&self.cron, self.tz.as_deref())?;
        validate_queue_name(&self.task_type)?;
        if self.payload.len() > max_payload {
            return Err(ValidationError::PayloadTooLarge {
                queue: self.task_type.clone(),
                size: self.payload.len(),
                limit: max_payload,
            }
            .into());
        }
        Ok(cron)
    }
}

/// A definition that passed [`ScheduleDef::validate`], with its parsed
/// expression: what the broker accepts.
#[derive(Debug, Clone)]
pub struct Schedule {
    def: ScheduleDef,
    cron: CronSchedule,
}

impl Schedule {
    /// Validates `def` (`max_payload`: the broker's payload limit).
    pub fn new(def: ScheduleDef, max_payload: usize) -> Result<Self, ScheduleError> {
        let cron = def.validate(max_payload)?;
        Ok(Self { def, cron })
    }

    /// The definition.
    pub fn def(&self) -> &ScheduleDef {
        &self.def
    }

    /// The parsed expression.
    pub fn cron(&self) -> &CronSchedule {
        &self.cron
    }
}

/// Checks that `name` is a valid schedule name: `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_schedule_name(name: &str) -> Result<(), ScheduleError> {
    let fail = |reason: String| ScheduleError::Name {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if name.len() > MAX_SCHEDULE_NAME_LEN {
        return Err(fail(format!("it is {} bytes long", name.len())));
    }
    if let Some(c) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(fail(format!("it contains {c:?}")));
    }
    Ok(())
}

/// What a host does with a fire due at `due_ms`, seen at `now_ms`: whether
/// to enqueue its task, and the fire to claim next (`None`: the expression
/// has no further fire; the schedule stays, stopped).
///
/// A fire at most [`MISSED_AFTER`] late fires; a later one was missed and
/// fires only with `catch_up`, once however many were missed. Either way
/// the next fire is the first after `now_ms`, so a host that comes back
/// after a day does not replay every minute of it.
pub fn decide(
    cron: &CronSchedule,
    due_ms: u64,
    now_ms: u64,
    catch_up: bool,
) -> (bool, Option<u64>) {
    let missed = now_ms.saturating_sub(due_ms) > MISSED_AFTER.as_millis() as u64;
    let next = cron.next_after(now_ms.max(due_ms));
    (!missed || catch_up, next)
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
