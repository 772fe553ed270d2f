//! Parsing of the operator's input that is not plain clap work: the payload
//! of `wasmq enqueue`, and when it should run.
//!
//! These are pure functions so their edge cases (offsets in `--at`, line and
//! column numbers of a JSON error) are pinned by tests instead of discovered
//! by an operator at 3 a.m. Every error message says which flag was wrong,
//! what was wrong with it and what to write instead.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::BadInput;
use super::table::short_duration;
use crate::task::Schedule;

/// Checks that `--payload` text is JSON and returns its bytes unchanged (the
/// payload is stored as written: no re-serialisation, so key order and number
/// formatting survive).
pub fn json_payload(text: &str) -> Result<Vec<u8>, BadInput> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(text.as_bytes().to_vec()),
        Err(e) => Err(BadInput(format!(
            "--payload is not valid JSON: {e}; use --payload-file for raw bytes"
        ))),
    }
}

/// Reads a raw payload from a file, or from stdin when `path` is `-`.
pub fn file_payload(path: &Path) -> Result<Vec<u8>, BadInput> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| BadInput(format!("cannot read the payload from stdin: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| {
        BadInput(format!(
            "--payload-file {}: cannot read it ({e}); check the path",
            path.display()
        ))
    })
}

/// Parses an RFC 3339 time with a `Z` or `±HH:MM` offset, such as
/// `2030-01-31T09:30:00Z` or `2030-01-31T10:30:00.5+01:00`.
pub fn parse_at(text: &str) -> Result<SystemTime, BadInput> {
    let bad = |why: &str| {
        BadInput(format!(
            "--at `{text}` is not an RFC 3339 time ({why}); write it like \
             2030-01-31T09:30:00Z or 2030-01-31T10:30:00+01:00"
        ))
    };
    let trimmed = text.trim();
    let (local, offset) = split_offset(trimmed).ok_or_else(|| {
        bad("it needs a time zone: end it with Z for UTC or an offset like +01:00")
    })?;
    if local
        .as_bytes()
        .get(10)
        .is_none_or(|&b| b != b'T' && b != b't')
    {
        return Err(bad("the date and the time must be separated by T"));
    }
    let naive = humantime::parse_rfc3339_weak(local).map_err(|e| bad(&e.to_string()))?;
    let shifted = if offset >= 0 {
        naive.checked_sub(Duration::from_secs(offset.unsigned_abs()))
    } else {
        naive.checked_add(Duration::from_secs(offset.unsigned_abs()))
    };
    shifted.ok_or_else(|| bad("it is out of range"))
}

/// Splits `2030-01-31T10:30:00+01:00` into the local part and the offset in
/// seconds east of UTC; `None` when there is no valid zone suffix.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, 0));
    }
    let split = text.len().checked_sub(6)?;
    let (local, zone) = (text.get(..split)?, text.get(split..)?);
    let zone = zone.as_bytes();
    let sign = match zone[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |a: u8, b: u8| -> Option<i64> {
        (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from((a - b'0') * 10 + (b - b'0')))
    };
    let hours = digits(zone[1], zone[2]).filter(|h| *h <= 23)?;
    let minutes = digits(zone[4], zone[5]).filter(|m| *m <= 59)?;
    (zone[3] == b':').then_some((local, sign * (hours * 3600 + minutes * 60)))
}

/// Resolves `--delay` / `--at` against `now` into the task's [`Schedule`]. A
/// time in the past is not an error (clocks differ, scripts are slow): the
/// task runs now and the second value is a note for stderr saying so.
pub fn schedule(
    delay: Option<Duration>,
    at: Option<SystemTime>,
    now: SystemTime,
) -> (Schedule, Option<String>) {
    match (delay, at) {
        (Some(delay), _) if !delay.is_zero() => (Schedule::Delay(delay), None),
        (_, Some(at)) => match at.duration_since(now) {
            Ok(ahead) if !ahead.is_zero() => (Schedule::At(at), None),
            Ok(_) => (Schedule::Now, None),
            Err(past) => (
                Schedule::Now,
                Some(format!(
                    "note: --at {} is {} in the past; enqueuing the task to run now",
                    humantime::format_rfc3339_seconds(at),
                    short_duration(past.duration())
                )),
            ),
        },
        _ => (Schedule::Now, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn json_errors_name_the_flag_and_position() {
        let err = json_payload("{\"to\": \"a@b.c\",\n \"subject\": }").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("--payload is not valid JSON: "), "{text}");
        assert!(text.contains("at line 2 column"), "{text}");
        assert!(text.ends_with("use --payload-file for raw bytes"), "{text}");
        assert_eq!(
            json_payload(" {\"b\":1, \"a\":2} ").unwrap(),
            b" {\"b\":1, \"a\":2} "
        );
    }

    #[test]
    fn at_accepts_zones_and_refuses_local_times() {
        let utc = parse_at("2030-01-31T09:30:00Z").unwrap();
        assert_eq!(parse_at("2030-01-31T10:30:00+01:00").unwrap(), utc);
        assert_eq!(parse_at("2030-01-31T05:00:00-04:30").unwrap(), utc);
        assert_eq!(
            parse_at("2030-01-31T09:30:00.250Z").unwrap(),
            utc + Duration::from_millis(250)
        );
        let err = parse_at("2030-01-31T09:30:00").unwrap_err().to_string();
        assert!(err.contains("time zone") && err.contains("--at"), "{err}");
        assert!(parse_at("2030-01-31 09:30:00Z").is_err());
        assert!(parse_at("2030-01-31T09:30:00+24:00").is_err());
        assert!(parse_at("tomorrow").is_err());
        assert!(parse_at("ééééééééé+01:00").is_err());
    }

    #[test]
    fn past_times_run_now_with_a_note() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (when, note) = schedule(None, Some(now - Duration::from_secs(90)), now);
        assert_eq!(when, Schedule::Now);
        assert!(note.unwrap().contains("1m 30s in the past"));
        let later = now + Duration::from_secs(5);
        assert_eq!(
            schedule(None, Some(later), now),
            (Schedule::At(later), None)
        );
        let delay = Duration::from_secs(30);
        assert_eq!(
            schedule(Some(delay), None, now),
            (Schedule::Delay(delay), None)
        );
        assert_eq!(
            schedule(Some(Duration::ZERO), None, now),
            (Schedule::Now, None)
        );
    }

    proptest! {
        /// Writing a UTC time in any zone and parsing it back gives the same instant.
        #[test]
        fn offsets_round_trip(secs in 100_000u64..10_000_000_000, hours in 0i64..24, minutes in 0i64..60, west: bool) {
            let instant = UNIX_EPOCH + Duration::from_secs(secs);
            let offset = (hours * 3600 + minutes * 60) * if west { -1 } else { 1 };
            let local = if offset >= 0 {
                instant + Duration::from_secs(offset.unsigned_abs())
            } else {
                instant - Duration::from_secs(offset.unsigned_abs())
            };
            let text = humantime::format_rfc3339_seconds(local).to_string();
            let sign = if west { '-' } else { '+' };
            let written = format!("{}{sign}{hours:02}:{minutes:02}", text.trim_end_matches('Z'));
            prop_assert_eq!(parse_at(&written).unwrap(), instant, "{}", written);
        }

        /// Any valid JSON is accepted byte for byte.
        #[test]
        fn valid_json_is_kept_verbatim(n in any::<i64>(), s in "[a-z ]{0,10}") {
            let text = format!("{{\"s\": \"{s}\", \"n\": {n}}}");
            prop_assert_eq!(json_payload(&text).unwrap(), text.into_bytes());
        }
    }
}
