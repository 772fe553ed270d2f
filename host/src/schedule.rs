//! Cron schedules, as pure values: a validated definition and its next fire.
//!
//! A schedule enqueues a task of one type, with a fixed payload, whenever its
//! cron expression matches in its time zone. This module knows neither Redis
//! nor wasm: the broker stores definitions and claims fires
//! (`broker/schedules.rs`), the worker's loop decides what a due fire does
//! (`worker/schedules.rs`), and the CLI and HTTP API validate their input here
//! first, so the three share one set of rules and one set of messages.
//!
//! Fire times are computed by [`croner`] in the schedule's [`chrono_tz`] zone
//! (UTC when none is given). Around daylight-saving changes it follows Vixie
//! cron: a wall-clock time skipped by the spring change fires at the first
//! valid minute after the gap, a time repeated by the autumn change fires
//! once. [`CronSchedule::next_after`] is a pure function of the instant it
//! starts from, which is what lets several hosts agree on the next fire
//! without talking to each other (see the properties in `tests.rs`).
//!
//! Expressions have five fields (minute granularity); `@hourly`, `@daily` and
//! friends, names (`MON`, `JAN`) and croner's `L`, `W`, `#` work too.

mod def;
#[cfg(test)]
mod tests;

pub use def::{
    MAX_SCHEDULE_NAME_LEN, MISSED_AFTER, Schedule, ScheduleDef, ScheduleError, decide,
    validate_schedule_name,
};

use chrono::{DateTime, Offset as _, TimeZone as _, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, JobType};

/// One minute, the granularity of fires.
const MINUTE_MS: u64 = 60_000;

/// How far ahead a search checks minutes one by one when the clocks go
/// back: longer than any zone's repeated span.
const FOLD_SCAN_MS: u64 = 3 * 60 * MINUTE_MS;

fn utc(ms: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(i64::try_from(ms).ok()?).single()
}

/// A parsed cron expression with its time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    /// Parses `expr` (five fields) in zone `tz` (an IANA name such as
    /// `Europe/Berlin`; `None` is UTC), and checks that it ever fires.
    pub fn parse(expr: &str, tz: Option<&str>) -> Result<Self, ScheduleError> {
        let tz = match tz {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| ScheduleError::TimeZone {
                tz: name.to_owned(),
            })?,
        };
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(expr).map_err(|e| ScheduleError::Cron {
            expr: expr.to_owned(),
            reason: e.to_string(),
        })?;
        let schedule = Self { cron, tz };
        // An expression such as `0 0 30 2 *` parses but never matches.
        if schedule.next_after(0).is_none() {
            return Err(ScheduleError::Cron {
                expr: expr.to_owned(),
                reason: "it never matches a real date".into(),
            });
        }
        Ok(schedule)
    }

    /// The zone the expression is read in.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first fire strictly after `after_ms` (Unix ms), in Unix ms; `None`
    /// when there is none within croner's search limit.
    ///
    /// Fires are on whole minutes, so the search starts at the minute
    /// `after_ms` is in (croner keeps sub-second parts). croner finds the
    /// next occurrence by wall-clock time, which in a repeated autumn hour
    /// gives only the first pass. For interval jobs (`*/5`, `*` in minutes
    /// or hours) the second pass fires too, as in Vixie cron: when the
    /// clocks go back before croner's answer, the minutes up to it are
    /// checked one by one against the expression.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let minute = after_ms - after_ms % MINUTE_MS;
        let mut found = self.croner_next(minute)?;
        // From the second pass of a repeated hour croner answers minutes of
        // the first pass, which are earlier: step past them (at most an hour).
        while found <= after_ms {
            found = self.croner_next(found)?;
        }
        if self.cron.determine_job_type() == JobType::FixedTime {
            return Some(found);
        }
        let end = found.min(minute + FOLD_SCAN_MS);
        // The clocks went back between a little before `after_ms` (we may be
        // in a repeated hour's second pass already) and the answer.
        let before = self.offset_s(minute.saturating_sub(FOLD_SCAN_MS))?;
        if before.max(self.offset_s(minute)?) <= self.offset_s(end)? {
            return Some(found);
        }
        let mut at = minute + MINUTE_MS;
        while at < end {
            let local = utc(at)?.with_timezone(&self.tz);
            if self.cron.is_time_matching(&local).ok()? {
                return Some(at);
            }
            at += MINUTE_MS;
        }
        Some(found)
    }

    /// croner's next occurrence strictly after `ms`, by wall-clock time.
    fn croner_next(&self, ms: u64) -> Option<u64> {
        let start = utc(ms)?.with_timezone(&self.tz);
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        u64::try_from(next.timestamp_millis()).ok()
    }

    /// The zone's offset from UTC at `ms`, in seconds.
    fn offset_s(&self, ms: u64) -> Option<i32> {
        let at = utc(ms)?.naive_utc();
        Some(
            self.tz
                .offset_from_utc_datetime(&at)
                .fix()
                .local_minus_utc(),
        )
    }
}
