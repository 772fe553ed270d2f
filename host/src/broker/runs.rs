//! Each task's run history: how every attempt ended and what it cost, its
//! log, and its last progress, for the task detail page, `wasmq status
//! --verbose` and `wasmq logs`.
//!
//! The host captures a run's log (the plugin's `log` lines, then its stdout
//! and stderr, each bounded by the runtime) and measures fuel, peak memory
//! and wall time; until now all of it was dropped once the task settled.
//! The settle scripts (`ack.lua`, `retry.lua`, `dead.lua`) now also write
//! it, in the same atomic call, to a small hash per task that has run,
//! `run:<local id>` (see `docs/keys.md`):
//!
//! * `a:<attempt>` → `<started ms>|<finished ms>|<outcome>|<wall ms>|<fuel>|<peak bytes>|<version>|<error>`
//!   (the script prefixes the two times, from the lease and Redis's clock);
//! * `l:<attempt>` → the attempt's log, at most [`MAX_KEPT_LOG`] bytes;
//! * `p` → `<percent>|<note>`, the last progress reported.
//!
//! Bounds: the last 25 attempts and the last 5 logs are kept (`prelude.lua`
//! `ATTEMPTS_KEPT`, `LOGS_KEPT`), and the hash expires with the task's
//! record: the result TTL after an ack (nothing is kept when the TTL is
//! zero), the dead-letter age bound after a failure. A hash is a key per
//! task, but only for tasks that ran, and it expires by itself, so purges
//! and queue removal need not find it. With encryption at rest the error
//! and the log are sealed like the last error in meta.

mod first;

use super::client::Client;
use super::consumer::Failure;
use super::error::BrokerResult;
use super::records::sanitize;
use serde::Serialize;
use std::collections::BTreeMap;

/// Longest log kept per attempt, in bytes. A longer log keeps its first
/// [`KEPT_LOG_HEAD`] bytes and its end, where stderr and a panic message
/// are, with a marker between them (cut at character boundaries).
pub const MAX_KEPT_LOG: usize = 16 * 1024;
/// Bytes kept from the start of a log that is cut.
pub const KEPT_LOG_HEAD: usize = 4 * 1024;
/// Longest progress note kept, in bytes.
pub const MAX_NOTE: usize = 256;

/// What one run cost and left behind, as the worker reports it with its
/// verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// How it ended (`success`, `retryable`, `trap`, `out_of_fuel`, ...).
    pub outcome: String,
    /// Wall time in ms.
    pub wall_ms: u64,
    /// Fuel consumed, if metered.
    pub fuel: Option<u64>,
    /// Peak linear memory in bytes.
    pub peak_memory: u64,
    /// The task log: `log` lines, stdout, stderr.
    pub log: String,
    /// The last progress reported: percent and note.
    pub progress: Option<(u8, String)>,
}

/// One attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// 1 for the first run.
    pub attempt: u32,
    /// When it started (ms since the Unix epoch, Redis's clock).
    pub started_at_ms: Option<u64>,
    /// When it was settled.
    pub finished_at_ms: Option<u64>,
    /// How it ended.
    pub outcome: String,
    /// Wall time, ms.
    pub wall_ms: Option<u64>,
    /// Fuel consumed.
    pub fuel_used: Option<u64>,
    /// Peak linear memory, bytes (`peak_memory_bytes` in JSON, as the
    /// HTTP API names it).
    #[serde(rename = "peak_memory_bytes")]
    pub peak_memory: Option<u64>,
    /// The plugin version that ran it.
    pub plugin_version: Option<String>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// Its log, if kept.
    pub log: Option<String>,
}

/// A task's run history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskRuns {
    /// The kept attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// The last progress: percent and note.
    pub progress: Option<(u8, String)>,
}

impl RunReport {
    /// The tail of the `a:<attempt>` field (after the two times), with the
    /// error as stored (sealed or not).
    pub(crate) fn tail(&self, version: &str, error: &str) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            sanitize(&self.outcome),
            self.wall_ms,
            self.fuel.map(|f| f.to_string()).unwrap_or_default(),
            self.peak_memory,
            sanitize(version),
            error
        )
    }

    /// The log as kept: at most [`MAX_KEPT_LOG`] bytes, its start and its
    /// end.
    pub(crate) fn kept_log(&self) -> String {
        let log = &self.log;
        if log.len() <= MAX_KEPT_LOG {
            return log.clone();
        }
        // The marker's digits are at most 20; reserve for the widest.
        let marker = |n: usize| format!("\n[... {n} bytes cut ...]\n");
        let room = MAX_KEPT_LOG - marker(usize::MAX).len();
        let head = log.floor_char_boundary(KEPT_LOG_HEAD);
        let tail = log.ceil_char_boundary(log.len() - (room - KEPT_LOG_HEAD));
        format!("{}{}{}", &log[..head], marker(tail - head), &log[tail..])
    }

    /// The `p` field, or empty.
    pub(crate) fn progress_field(&self) -> String {
        self.progress
            .as_ref()
            .map(|(pct, note)| progress_value(*pct, note))
            .unwrap_or_default()
    }
}

/// A `p` field: the percent (at most 100) and the note, cut at
/// [`MAX_NOTE`] bytes.
pub(crate) fn progress_value(percent: u8, note: &str) -> String {
    format!("{}|{}", percent.min(100), cut(note, MAX_NOTE, "…"))
}

fn cut(text: &str, max: usize, marker: &str) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = text.floor_char_boundary(max - marker.len());
    format!("{}{marker}", &text[..end])
}

/// Parses one `a:<attempt>` field; `None` when malformed.
fn parse_attempt(attempt: u32, text: &str) -> Option<Attempt> {
    let mut p = text.splitn(8, '|');
    let num = |s: &str| s.parse::<u64>().ok();
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Some(Attempt {
        attempt,
        started_at_ms: num(p.next()?),
        finished_at_ms: num(p.next()?),
        outcome: p.next()?.to_owned(),
        wall_ms: num(p.next()?),
        fuel_used: num(p.next()?),
        peak_memory: num(p.next()?),
        plugin_version: text(p.next()?),
        error: text(p.next()?),
        log: None,
    })
}

/// Builds the history from the run hash's fields.
fn parse_runs(fields: Vec<(String, String)>) -> TaskRuns {
    let mut attempts = BTreeMap::new();
    let mut logs = BTreeMap::new();
    let mut progress = None;
    for (field, value) in fields {
        match field.split_once(':') {
            Some(("a", n)) => {
                if let Some(a) = n.parse().ok().and_then(|n| parse_attempt(n, &value)) {
                    attempts.insert(a.attempt, a);
                }
            }
            Some(("l", n)) => {
                if let Ok(n) = n.parse::<u32>() {
                    logs.insert(n, value);
                }
            }
            _ if field == "p" => {
                progress = value
                    .split_once('|')
                    .and_then(|(pct, note)| Some((pct.parse().ok()?, note.to_owned())));
            }
            _ => {}
        }
    }
    for (n, log) in logs {
        if let Some(a) = attempts.get_mut(&n) {
            a.log = Some(log);
        }
    }
    TaskRuns {
        attempts: attempts.into_values().collect(),
        progress,
    }
}

impl Client {
    /// The run tail, log and progress arguments of a settle script (empty
    /// when the verdict carries no run report).
    pub(crate) fn run_args(
        &self,
        queue: &str,
        run: &RunReport,
        version: &str,
        error: &str,
    ) -> [String; 3] {
        let log = run.kept_log();
        let log = match log.is_empty() {
            true => log,
            false => self.seal_error(queue, &log),
        };
        [run.tail(version, error), log, run.progress_field()]
    }

    /// The failures channel, or empty when announcements are off.
    pub(crate) fn failure_channel(&self) -> &str {
        match self.inner.opts.publish_completions {
            true => &self.inner.global.failed_channel,
            false => "",
        }
    }

    pub(crate) fn failure_run_args(&self, queue: &str, failure: &Failure) -> [String; 3] {
        match &failure.run {
            Some(run) => {
                let error = self.seal_error(queue, &failure.message);
                self.run_args(queue, run, &failure.plugin_version, &error)
            }
            None => Default::default(),
        }
    }

    /// The run history of a task (empty when it never ran, or its history
    /// expired).
    pub async fn task_runs(&self, id: &crate::task::TaskId) -> BrokerResult<TaskRuns> {
        let keys = self.keys(id.queue())?;
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(keys.run(id.local()))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("read the run history of task {id}"), e))?;
        // A clean first run left no hash: its final record has its attempt.
        let mut runs = first::with_final(parse_runs(fields), self.final_header(id).await?);
        for a in &mut runs.attempts {
            a.error = self.open_error(id.queue(), a.error.take());
            a.log = self.open_error(id.queue(), a.log.take());
        }
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn attempts_round_trip(
            n in 1u32..1000,
            times in any::<(u64, u64)>(),
            outcome in "[a-z_]{1,20}",
            wall in any::<u64>(),
            fuel in proptest::option::of(any::<u64>()),
            peak in any::<u64>(),
            version in "[ -~]{1,30}",
            error in ".{0,60}",
            log in ".{0,60}",
        ) {
            let report = RunReport { outcome: outcome.clone(), wall_ms: wall, fuel, peak_memory: peak,
                log: log.clone(), progress: Some((40, "half|way".into())) };
            let field = format!("{}|{}|{}", times.0, times.1, report.tail(&version, &error));
            let runs = parse_runs(vec![
                (format!("a:{n}"), field),
                (format!("l:{n}"), report.kept_log()),
                ("p".into(), report.progress_field()),
            ]);
            let a = &runs.attempts[0];
            prop_assert_eq!((a.attempt, a.started_at_ms, a.finished_at_ms), (n, Some(times.0), Some(times.1)));
            prop_assert_eq!((&a.outcome, a.wall_ms, a.fuel_used, a.peak_memory), (&outcome, Some(wall), fuel, Some(peak)));
            prop_assert_eq!(a.plugin_version.clone(), Some(sanitize(&version)).filter(|v| !v.is_empty()));
            prop_assert_eq!(a.error.clone(), Some(error.clone()).filter(|e| !e.is_empty()));
            prop_assert_eq!(a.log.clone(), Some(log.clone()));
            prop_assert_eq!(runs.progress, Some((40, "half|way".to_owned())));
        }

        #[test]
        fn junk_fields_never_panic(field in ".{0,20}", value in ".{0,80}") {
            let _ = parse_runs(vec![(field, value)]);
        }
    }

    #[test]
    fn logs_and_notes_are_bounded() {
        let report = RunReport {
            log: "é".repeat(MAX_KEPT_LOG),
            progress: Some((250, "n".repeat(1000))),
            ..RunReport::default()
        };
        let log = report.kept_log();
        assert!(log.len() <= MAX_KEPT_LOG, "{}", log.len());
        assert!(log.contains(" bytes cut ...]"), "no marker");
        // The end of a long log is kept: that is where a panic is.
        let long = RunReport {
            log: format!("{}\npanicked at the end", "x".repeat(3 * MAX_KEPT_LOG)),
            ..RunReport::default()
        };
        let log = long.kept_log();
        assert!(log.len() <= MAX_KEPT_LOG, "{}", log.len());
        assert!(log.starts_with("xxxx") && log.ends_with("panicked at the end"));
        let short = RunReport {
            log: "all of it".into(),
            ..RunReport::default()
        };
        assert_eq!(short.kept_log(), "all of it");
        let p = report.progress_field();
        assert!(
            p.starts_with("100|") && p.len() <= 4 + MAX_NOTE,
            "{}",
            p.len()
        );
        let runs = parse_runs(vec![
            ("a:2".into(), "1|2|trap|3||4|v1|boom".into()),
            ("a:1".into(), "junk".into()),
        ]);
        assert_eq!(runs.attempts.len(), 1);
        assert_eq!(runs.attempts[0].error.as_deref(), Some("boom"));
    }

    proptest::proptest! {
        #[test]
        fn a_kept_log_is_bounded_and_keeps_both_ends(
            head in "\\PC{0,64}", middle in "\\PC{0,64}", tail in "\\PC{0,64}", n in 0usize..40_000,
        ) {
            let log = format!("{head}{}{middle}{tail}", "ß".repeat(n));
            let kept = RunReport { log: log.clone(), ..RunReport::default() }.kept_log();
            proptest::prop_assert!(kept.len() <= MAX_KEPT_LOG);
            if log.len() <= MAX_KEPT_LOG {
                proptest::prop_assert_eq!(kept, log);
            } else {
                proptest::prop_assert!(kept.starts_with(&head) && kept.ends_with(&tail));
            }
        }
    }
}
