//! A clean first run's history, read from its final record.
//!
//! Most tasks succeed on their first attempt without logging or reporting
//! progress. For them a run hash would repeat what the final record (in a
//! result bucket) already says — attempt, start, finish, wall time, fuel,
//! plugin version and peak memory — at the price of one more key per task
//! and three more calls in every ack. So `ack.lua` writes none, and the
//! reader puts the attempt together from the final record instead.
//!
//! A run hash left from an earlier life of the task (a dead task re-driven
//! starts again at attempt 1) is then stale: when the hash has no attempt
//! of the record's number that ended when the record did, the record is
//! the truth.

use super::{Attempt, TaskRuns};
use crate::broker::client::Client;
use crate::broker::error::BrokerResult;
use crate::broker::records::FinalRecord;
use crate::task::{TaskId, TaskState};

/// The history to show: `runs` as kept, completed with the attempt of the
/// final record when the hash does not have it.
pub(super) fn with_final(mut runs: TaskRuns, record: Option<FinalRecord>) -> TaskRuns {
    let Some(rec) = record.filter(|r| r.state == TaskState::Completed) else {
        return runs;
    };
    // The settle writes the hash and the record with one clock reading.
    let kept = |a: &Attempt| a.attempt == rec.attempt && a.finished_at_ms == Some(rec.finished_ms);
    if runs.attempts.iter().any(kept) {
        return runs;
    }
    if rec.attempt <= 1 {
        // Whatever the hash holds is from an earlier life of the task.
        runs = TaskRuns::default();
    }
    runs.attempts.push(Attempt {
        attempt: rec.attempt,
        started_at_ms: rec.started_ms,
        finished_at_ms: Some(rec.finished_ms),
        outcome: "success".into(),
        wall_ms: rec.wall_ms,
        fuel_used: rec.fuel,
        peak_memory: rec.peak_memory,
        plugin_version: rec.version,
        error: None,
        log: None,
    });
    runs
}

impl Client {
    /// The first line of the task's final record, if it has one.
    pub(super) async fn final_header(&self, id: &TaskId) -> BrokerResult<Option<FinalRecord>> {
        let head = self.final_record(id, true).await?;
        Ok(head.and_then(|h| FinalRecord::parse_header(&String::from_utf8_lossy(&h))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attempt: u32) -> FinalRecord {
        let head = format!("completed|2000|{attempt}|1000|1500|7|1234|v2|application/json|65536");
        FinalRecord::parse_header(&head).unwrap()
    }

    fn kept(attempt: u32, outcome: &str) -> Attempt {
        Attempt {
            attempt,
            started_at_ms: Some(10),
            finished_at_ms: Some(20),
            outcome: outcome.into(),
            wall_ms: Some(1),
            fuel_used: None,
            peak_memory: None,
            plugin_version: Some("v1".into()),
            error: Some("boom".into()),
            log: Some("log".into()),
        }
    }

    #[test]
    fn a_clean_first_run_comes_from_its_record() {
        let runs = with_final(TaskRuns::default(), Some(record(1)));
        assert_eq!(runs.attempts.len(), 1);
        let a = &runs.attempts[0];
        assert_eq!((a.attempt, a.outcome.as_str()), (1, "success"));
        assert_eq!(
            (a.started_at_ms, a.finished_at_ms),
            (Some(1500), Some(2000))
        );
        assert_eq!(
            (a.wall_ms, a.fuel_used, a.peak_memory),
            (Some(7), Some(1234), Some(65536))
        );
        assert_eq!(a.plugin_version.as_deref(), Some("v2"));
    }

    #[test]
    fn a_kept_attempt_wins_and_a_stale_history_gives_way() {
        // The hash has the attempt (settled at the record's time): as kept.
        let mut second = kept(2, "success");
        second.finished_at_ms = Some(2000);
        let both = TaskRuns {
            attempts: vec![kept(1, "retryable"), second],
            progress: Some((100, "done".into())),
        };
        assert_eq!(with_final(both.clone(), Some(record(2))), both);
        // A re-driven task that then ran clean: the old history goes.
        let stale = TaskRuns {
            attempts: vec![kept(1, "trap")],
            progress: Some((50, "old".into())),
        };
        let runs = with_final(stale, Some(record(1)));
        assert_eq!(runs.attempts.len(), 1);
        assert_eq!(runs.attempts[0].outcome, "success");
        assert_eq!(runs.progress, None);
        // No record, or a cancelled one: the hash as kept.
        assert_eq!(with_final(both.clone(), None), both);
        let cancelled = FinalRecord::parse_header("cancelled|2000|1|1000|1500|||v1|").unwrap();
        assert_eq!(with_final(both.clone(), Some(cancelled)), both);
    }
}
