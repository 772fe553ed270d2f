//! Which state a task page shows and where it starts.
//!
//! A cursor is opaque to callers but plain text, so it survives a URL and a
//! shell: `o<offset>` into a live state's list or set, or
//! `b<bucket number>.<scan cursor>` into the result buckets of the final
//! states (buckets are walked newest first, each with `HSCAN`). Both are
//! parsed and bounded here, before anything reaches Redis.

use crate::error::ValidationError;
use crate::task::TaskState;
use std::fmt;
use std::str::FromStr;

/// Longest cursor text accepted.
pub const MAX_CURSOR_LEN: usize = 48;
/// Deepest offset a live-state page may start at (a page is at most 500).
pub const MAX_OFFSET: u64 = 10_000_000;

/// The states the task browser lists.
pub const BROWSABLE: [TaskState; 7] = [
    TaskState::Pending,
    TaskState::Scheduled,
    TaskState::Active,
    TaskState::RetryWait,
    TaskState::Dead,
    TaskState::Completed,
    TaskState::Cancelled,
];

/// Parses a state name for the task browser: every [`BROWSABLE`] state by
/// its API name, and `retry` for `retry-wait`.
pub fn browse_state(text: &str) -> Result<TaskState, ValidationError> {
    let state = match text {
        "retry" => TaskState::RetryWait,
        other => other.parse().map_err(|_| unknown_state(text))?,
    };
    if BROWSABLE.contains(&state) {
        Ok(state)
    } else {
        Err(unknown_state(text))
    }
}

fn unknown_state(text: &str) -> ValidationError {
    ValidationError::OutOfRange {
        what: "state".into(),
        reason: format!(
            "{text:?} is not a state tasks can be listed in; use one of pending, scheduled, \
             active, retry, dead, completed, cancelled"
        ),
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskCursor {
    /// Tasks of a live state to skip.
    Offset(u64),
    /// A result bucket (by number) and the `HSCAN` cursor within it.
    Bucket {
        /// The bucket's number.
        number: u64,
        /// Where the scan of that bucket goes on.
        scan: u64,
    },
}

impl TaskCursor {
    /// Whether this cursor can continue a page of `state`.
    pub fn fits(&self, state: TaskState) -> bool {
        let final_state = matches!(state, TaskState::Completed | TaskState::Cancelled);
        matches!(self, TaskCursor::Bucket { .. }) == final_state
    }
}

impl fmt::Display for TaskCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskCursor::Offset(n) => write!(f, "o{n}"),
            TaskCursor::Bucket { number, scan } => write!(f, "b{number}.{scan}"),
        }
    }
}

impl serde::Serialize for TaskCursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for TaskCursor {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ValidationError::OutOfRange {
            what: "cursor".into(),
            reason: format!(
                "{:?} {why}; pass back the `next_cursor` of the previous page, or no cursor \
                 for the first page",
                text.chars().take(MAX_CURSOR_LEN).collect::<String>()
            ),
        };
        if text.len() > MAX_CURSOR_LEN {
            return Err(bad("is too long"));
        }
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        if let Some(rest) = text.strip_prefix('o') {
            let n = number(rest).ok_or_else(|| bad("is not a cursor"))?;
            if n > MAX_OFFSET {
                return Err(bad(&format!("goes deeper than {MAX_OFFSET} tasks")));
            }
            return Ok(TaskCursor::Offset(n));
        }
        if let Some((n, scan)) = text.strip_prefix('b').and_then(|r| r.split_once('.'))
            && let (Some(number), Some(scan)) = (number(n), number(scan))
        {
            return Ok(TaskCursor::Bucket { number, scan });
        }
        Err(bad("is not a cursor"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(offset in 0..=MAX_OFFSET, number in any::<u64>(), scan in any::<u64>()) {
            for c in [TaskCursor::Offset(offset), TaskCursor::Bucket { number, scan }] {
                prop_assert_eq!(c.to_string().parse::<TaskCursor>().unwrap(), c);
            }
        }

        #[test]
        fn junk_is_refused_not_a_panic(text in ".{0,60}") {
            if let Ok(c) = text.parse::<TaskCursor>() {
                prop_assert_eq!(c.to_string(), text);
            }
        }
    }

    #[test]
    fn bounds_and_states() {
        assert!("o10000001".parse::<TaskCursor>().is_err());
        assert!("o-1".parse::<TaskCursor>().is_err());
        assert!("o+1".parse::<TaskCursor>().is_err());
        assert!("b1".parse::<TaskCursor>().is_err());
        let e = "x".parse::<TaskCursor>().unwrap_err().to_string();
        assert!(e.contains("next_cursor"), "{e}");
        assert_eq!(browse_state("retry").unwrap(), TaskState::RetryWait);
        assert_eq!(browse_state("dead").unwrap(), TaskState::Dead);
        let e = browse_state("waiting").unwrap_err().to_string();
        assert!(e.contains("pending, scheduled"), "{e}");
        assert!(TaskCursor::Offset(0).fits(TaskState::Dead));
        assert!(!TaskCursor::Offset(0).fits(TaskState::Completed));
    }
}
