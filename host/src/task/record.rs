//! The stored form of a queued task.
//!
//! A task's body is written once at enqueue and never changed, so it can be a
//! single hash field with no per-task key: a one-line text header followed by
//! the raw payload bytes.
//!
//! ```text
//! 1|<priority 0-2>|<max retries>|<timeout ms, 0 = host default>|<fuel, empty = host default>|<enqueued ms>\n<payload>
//! ```
//!
//! Text keeps the header readable with `redis-cli` and lets the Lua scripts
//! read the two fields they need (priority and max retries) with one
//! `string.match` on the prefix `^1|(%d)|(%d+)|`. The leading `1` is the format
//! version: a future format changes it, and both sides refuse what they do
//! not know instead of misreading it.

use super::Priority;
use thiserror::Error;

/// The format version written in front of every header.
const VERSION: &str = "1";

/// Headers are short; a newline later than this means the body is not ours.
const MAX_HEADER_LEN: usize = 128;

/// A task body as stored in the queue's task hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// Priority level within the queue.
    pub priority: Priority,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wall-clock limit per attempt in ms; 0 means the host's default.
    pub timeout_ms: u64,
    /// Fuel budget per attempt; `None` means the host's default.
    pub fuel: Option<u64>,
    /// When the producer enqueued it, in ms since the Unix epoch.
    pub enqueued_at_ms: u64,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Why a stored body could not be read as a task record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// No newline ends the header within its first 128 bytes.
    #[error("malformed task record: no header line in the first {MAX_HEADER_LEN} bytes")]
    NoHeader,
    /// The header is not UTF-8 text.
    #[error("malformed task record: the header is not text")]
    NotText,
    /// A header with another version or another number of fields.
    #[error("malformed task record: unknown header format {0:?}")]
    Format(String),
    /// A header field that does not parse.
    #[error("malformed task record: field `{field}` is {value:?}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// The text found.
        value: String,
    },
}

impl TaskRecord {
    /// The header line and payload, as stored.
    pub fn encode(&self) -> Vec<u8> {
        let fuel = self.fuel.map(|f| f.to_string()).unwrap_or_default();
        let header = format!(
            "{VERSION}|{}|{}|{}|{fuel}|{}\n",
            self.priority.level(),
            self.max_retries,
            self.timeout_ms,
            self.enqueued_at_ms,
        );
        let mut out = Vec::with_capacity(header.len() + self.payload.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Reads a stored body back, refusing anything that is not exactly the
    /// format [`TaskRecord::encode`] writes.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let (header, payload) = split_header(bytes)?;
        let mut record = parse_header(header)?;
        record.payload = payload.to_vec();
        Ok(record)
    }

    /// Reads only the header of a stored body (the payload is left empty);
    /// used for status lookups, which must not copy payloads around.
    pub fn decode_header(header: &[u8]) -> Result<Self, RecordError> {
        let header = header.strip_suffix(b"\n").unwrap_or(header);
        parse_header(header)
    }
}

fn split_header(bytes: &[u8]) -> Result<(&[u8], &[u8]), RecordError> {
    let end = bytes
        .iter()
        .take(MAX_HEADER_LEN)
        .position(|b| *b == b'\n')
        .ok_or(RecordError::NoHeader)?;
    Ok((&bytes[..end], &bytes[end + 1..]))
}

fn parse_header(header: &[u8]) -> Result<TaskRecord, RecordError> {
    let text = std::str::from_utf8(header).map_err(|_| RecordError::NotText)?;
    let fields: Vec<&str> = text.split('|').collect();
    let [version, prio, retries, timeout, fuel, enqueued] = fields.as_slice() else {
        return Err(RecordError::Format(text.to_owned()));
    };
    if *version != VERSION {
        return Err(RecordError::Format(text.to_owned()));
    }
    let priority = number::<u8>("priority", prio)
        .and_then(|level| Priority::from_level(level).ok_or_else(|| bad("priority", prio)))?;
    Ok(TaskRecord {
        priority,
        max_retries: number("max_retries", retries)?,
        timeout_ms: number("timeout_ms", timeout)?,
        fuel: if fuel.is_empty() {
            None
        } else {
            Some(number("fuel", fuel)?)
        },
        enqueued_at_ms: number("enqueued_at_ms", enqueued)?,
        payload: Vec::new(),
    })
}

/// Parses a plain decimal number: digits only, no sign, no spaces.
fn number<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T, RecordError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, text));
    }
    text.parse().map_err(|_| bad(field, text))
}

fn bad(field: &'static str, value: &str) -> RecordError {
    RecordError::Field {
        field,
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = TaskRecord> {
        (
            0u8..3,
            any::<u32>(),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(p, r, t, f, e, payload)| TaskRecord {
                priority: Priority::from_level(p).unwrap(),
                max_retries: r,
                timeout_ms: t,
                fuel: f,
                enqueued_at_ms: e,
                payload,
            })
    }

    #[test]
    fn header_is_what_lua_expects() {
        let rec = TaskRecord {
            priority: Priority::High,
            max_retries: 3,
            timeout_ms: 0,
            fuel: None,
            enqueued_at_ms: 1_700_000_000_000,
            payload: b"{}".to_vec(),
        };
        assert_eq!(rec.encode(), b"1|0|3|0||1700000000000\n{}");
    }

    #[test]
    fn rejects_foreign_bodies() {
        for body in [
            &b"hello"[..],
            b"2|0|3|0||1\n",
            b"1|3|3|0||1\n",
            b"1|0|-3|0||1\n",
            b"1|0|3|0||\n",
            b"1|0|3|0|x|1\n",
            b"1|0|3|0||1|9\n",
            b"1|0| 3|0||1\n",
            b"{\"to\":\"x\"}",
        ] {
            assert!(
                TaskRecord::decode(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest! {
        #[test]
        fn round_trips(rec in record()) {
            let bytes = rec.encode();
            prop_assert_eq!(TaskRecord::decode(&bytes).unwrap(), rec.clone());
            let end = bytes.iter().position(|b| *b == b'\n').unwrap();
            let header = TaskRecord::decode_header(&bytes[..=end]).unwrap();
            prop_assert_eq!(header, TaskRecord { payload: vec![], ..rec });
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = TaskRecord::decode(&bytes);
        }

        #[test]
        fn truncated_headers_are_rejected(rec in record(), cut in 0usize..40) {
            let bytes = rec.encode();
            let end = bytes.iter().position(|b| *b == b'\n').unwrap();
            let cut = cut.min(end);
            // Dropping the newline (and what follows) leaves no header line.
            prop_assert!(TaskRecord::decode(&bytes[..cut]).is_err());
        }
    }
}
