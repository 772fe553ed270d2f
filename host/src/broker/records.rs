//! The broker's mutable per-task records, as Rust reads and writes them.
//!
//! * **meta** (`meta` hash, one field per task that has left the active set
//!   other than by an ack):
//!   `<attempt>|<last started ms>|<finished ms>|<plugin version>|<reason>|<last error>`.
//!   The error comes last so it may contain `|`. While a task is leased, its
//!   current attempt and start time are in the lease value instead
//!   (`<token>|<attempt>|<started ms>`), so a lease never rewrites meta.
//! * **final record** (a field of a result bucket hash, see `results.rs`),
//!   for completed and cancelled tasks:
//!   `<state>|<finished ms>|<attempt>|<enqueued ms>|<started ms>|<wall ms>|<fuel>|<version>|<content type>[|<peak memory>]\n<output>`.
//!   Acks send everything after `<finished ms>|` (the script stamps the
//!   time with Redis's clock); the scripts write cancelled ones themselves,
//!   without the peak memory. With it, the record says all a clean first
//!   run would put in the task's run history, which is then not written
//!   (see `broker/runs.rs`).
//!
//! Version and content type are sanitised (no `|`, no newline) before they
//! are written, so both formats split unambiguously.

use crate::task::TaskState;

/// Longest plugin version or content type stored, in bytes.
const MAX_LABEL: usize = 128;

/// A task's meta field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    pub attempt: u32,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub version: Option<String>,
    pub reason: Option<String>,
    pub error: Option<String>,
}

impl Meta {
    /// Parses a meta field; `None` if it is not in the format above.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(6, '|');
        let attempt = parts.next()?.parse().ok()?;
        let started_ms = opt_number(parts.next()?)?;
        let finished_ms = opt_number(parts.next()?)?;
        let version = non_empty(parts.next()?);
        let reason = non_empty(parts.next()?);
        let error = non_empty(parts.next()?);
        Some(Self {
            attempt,
            started_ms,
            finished_ms,
            version,
            reason,
            error,
        })
    }

    /// Takes the attempt and start time from a lease value
    /// (`<token>|<attempt>|<started ms>`): while a task is active they are
    /// there, not in meta.
    pub(crate) fn apply_lease(&mut self, lease: &str) {
        let mut parts = lease.split('|').skip(1);
        if let (Some(a), Some(s)) = (parts.next(), parts.next()) {
            self.attempt = a.parse().unwrap_or(self.attempt);
            self.started_ms = s.parse().ok().or(self.started_ms);
        }
    }

    /// The meta field text (the Lua scripts write the same format).
    #[cfg(test)]
    pub(crate) fn encode(&self) -> String {
        let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.attempt,
            num(self.started_ms),
            num(self.finished_ms),
            self.version.as_deref().map(sanitize).unwrap_or_default(),
            self.reason.as_deref().map(sanitize).unwrap_or_default(),
            self.error.as_deref().unwrap_or_default(),
        )
    }
}

/// The header of a final record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FinalRecord {
    pub state: TaskState,
    pub finished_ms: u64,
    pub attempt: u32,
    pub enqueued_ms: Option<u64>,
    pub started_ms: Option<u64>,
    pub wall_ms: Option<u64>,
    pub fuel: Option<u64>,
    pub version: Option<String>,
    pub content_type: Option<String>,
    pub peak_memory: Option<u64>,
}

impl FinalRecord {
    /// Splits a stored final record into its header and output bytes.
    pub(crate) fn parse(bytes: &[u8]) -> Option<(Self, Vec<u8>)> {
        let nl = bytes.iter().position(|b| *b == b'\n');
        let (head, output) = match nl {
            Some(i) => (&bytes[..i], bytes[i + 1..].to_vec()),
            None => (bytes, Vec::new()),
        };
        Some((Self::parse_header(std::str::from_utf8(head).ok()?)?, output))
    }

    /// Parses the header line alone.
    pub(crate) fn parse_header(text: &str) -> Option<Self> {
        let fields: Vec<&str> = text.split('|').collect();
        // Records written before the peak memory was kept have 9 fields.
        let (fields, peak) = match fields.as_slice() {
            [head @ .., peak] if head.len() == 9 => (head, opt_number(peak)?),
            all => (all, None),
        };
        let [
            state,
            finished,
            attempt,
            enq,
            started,
            wall,
            fuel,
            version,
            ctype,
        ] = fields
        else {
            return None;
        };
        let state = match *state {
            "completed" => TaskState::Completed,
            "cancelled" => TaskState::Cancelled,
            _ => return None,
        };
        Some(Self {
            state,
            finished_ms: finished.parse().ok()?,
            attempt: attempt.parse().ok()?,
            enqueued_ms: opt_number(enq)?,
            started_ms: opt_number(started)?,
            wall_ms: opt_number(wall)?,
            fuel: opt_number(fuel)?,
            version: non_empty(version),
            content_type: non_empty(ctype),
            peak_memory: peak,
        })
    }
}

/// What an ack sends for one task's final record: the record from
/// `<attempt>` on (the script prefixes state and finish time).
#[allow(clippy::too_many_arguments)]
pub(crate) fn ack_tail(
    attempt: u32,
    enqueued_ms: u64,
    started_ms: u64,
    wall_ms: u64,
    fuel: Option<u64>,
    version: &str,
    content_type: Option<&str>,
    peak_memory: Option<u64>,
    output: &[u8],
) -> Vec<u8> {
    let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    let head = format!(
        "{attempt}|{enqueued_ms}|{started_ms}|{wall_ms}|{}|{}|{}|{}\n",
        num(fuel),
        sanitize(version),
        content_type.map(sanitize).unwrap_or_default(),
        num(peak_memory),
    );
    let mut out = Vec::with_capacity(head.len() + output.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(output);
    out
}

/// A label fit for a `|`-separated field: no `|`, no newline, bounded.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c == '|' || c.is_control() { '_' } else { c })
        .collect();
    out.truncate(out.floor_char_boundary(MAX_LABEL));
    out
}

/// An empty field is `Some(None)`, a number `Some(Some(n))`, junk `None`.
fn opt_number(text: &str) -> Option<Option<u64>> {
    if text.is_empty() {
        Some(None)
    } else {
        text.parse().ok().map(Some)
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[ -~]{1,40}").prop_map(|s| s.map(|s| sanitize(&s)))
    }

    proptest! {
        #[test]
        fn meta_round_trips(
            attempt in any::<u32>(),
            started in proptest::option::of(any::<u64>()),
            finished in proptest::option::of(any::<u64>()),
            version in label(),
            reason in label(),
            error in proptest::option::of(".{1,80}"),
        ) {
            let meta = Meta { attempt, started_ms: started, finished_ms: finished, version, reason, error };
            prop_assert_eq!(Meta::parse(&meta.encode()), Some(meta));
        }

        #[test]
        fn final_record_round_trips(
            attempt in any::<u32>(),
            times in any::<(u64, u64, u64, u64)>(),
            fuel in proptest::option::of(any::<u64>()),
            version in "[ -~]{0,40}",
            ctype in proptest::option::of("[ -~]{1,40}"),
            output in proptest::collection::vec(any::<u8>(), 0..100),
            peak in proptest::option::of(any::<u64>()),
        ) {
            let (finished, enq, started, wall) = times;
            let tail = ack_tail(attempt, enq, started, wall, fuel, &version, ctype.as_deref(), peak, &output);
            let mut stored = format!("completed|{finished}|").into_bytes();
            stored.extend_from_slice(&tail);
            let (rec, out) = FinalRecord::parse(&stored).unwrap();
            prop_assert_eq!(out, output);
            prop_assert_eq!(rec.state, TaskState::Completed);
            prop_assert_eq!(rec.finished_ms, finished);
            prop_assert_eq!(rec.attempt, attempt);
            prop_assert_eq!(rec.enqueued_ms, Some(enq));
            prop_assert_eq!(rec.wall_ms, Some(wall));
            prop_assert_eq!(rec.fuel, fuel);
            prop_assert_eq!(rec.peak_memory, peak);
            let version = sanitize(&version);
            prop_assert_eq!(rec.version.as_deref(), (!version.is_empty()).then_some(version.as_str()));
            prop_assert_eq!(rec.content_type, ctype.map(|c| sanitize(&c)).filter(|c| !c.is_empty()));
        }

        #[test]
        fn junk_never_panics(text in ".{0,80}") {
            let _ = Meta::parse(&text);
            let _ = FinalRecord::parse(text.as_bytes());
        }
    }

    #[test]
    fn lua_written_records_parse() {
        // As finish_cancelled in prelude_queue.lua writes it.
        let (rec, out) = FinalRecord::parse(b"cancelled|1700|2|1600|1650|||v1|\n").unwrap();
        assert_eq!(rec.state, TaskState::Cancelled);
        assert_eq!(rec.attempt, 2);
        assert_eq!(rec.version.as_deref(), Some("v1"));
        assert_eq!(rec.peak_memory, None);
        assert!(out.is_empty());
        let mut meta = Meta::parse("3|100||v2|retries-exhausted|boom|with|pipes").unwrap();
        meta.apply_lease("tok|4|200");
        assert_eq!((meta.attempt, meta.started_ms), (4, Some(200)));
        assert_eq!(meta.error.as_deref(), Some("boom|with|pipes"));
        assert_eq!(sanitize("a|b\nc"), "a_b_c");
    }
}
