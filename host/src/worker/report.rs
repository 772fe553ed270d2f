//! What a verdict carries about its run besides the decision: the error
//! message, bounded, and the run report (outcome, cost, log, progress) that
//! the settle scripts keep in the task's run history (`broker/runs.rs`).
//! The runtime measures and captures; the broker stores; this is where one
//! becomes the other, since only the worker knows both.

use crate::broker::RunReport;
use crate::runtime::Outcome;

/// Longest error message kept for a task, in bytes.
pub(super) const MAX_ERROR_LEN: usize = 4096;

/// The run report of an outcome.
pub(super) fn run_report(outcome: &Outcome) -> RunReport {
    RunReport {
        outcome: outcome.label().to_owned(),
        wall_ms: outcome.wall_time.as_millis() as u64,
        fuel: Some(outcome.fuel_used),
        peak_memory: outcome.peak_memory,
        log: outcome.log.clone(),
        progress: outcome.progress.clone(),
    }
}

/// `message` cut to [`MAX_ERROR_LEN`] on a character boundary, marked.
pub(super) fn truncate(mut message: String) -> String {
    if message.len() > MAX_ERROR_LEN {
        message.truncate(message.floor_char_boundary(MAX_ERROR_LEN));
        message.push_str(" [truncated]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::OutcomeKind;
    use std::time::Duration;

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = truncate(long);
        assert!(cut.ends_with(" [truncated]"));
        assert!(cut.len() <= MAX_ERROR_LEN + 12);
        assert_eq!(truncate("short".into()), "short");
    }

    #[test]
    fn a_report_carries_the_cost_and_the_log() {
        let outcome = Outcome {
            kind: OutcomeKind::OutOfFuel,
            fuel_used: 7,
            peak_memory: 65536,
            wall_time: Duration::from_millis(12),
            log: "INFO hello".into(),
            progress: Some((50, "half".into())),
            children: Vec::new(),
        };
        let r = run_report(&outcome);
        assert_eq!(
            (r.outcome.as_str(), r.wall_ms, r.fuel, r.peak_memory),
            ("out_of_fuel", 12, Some(7), 65536)
        );
        assert_eq!(
            (r.log.as_str(), r.progress),
            ("INFO hello", Some((50, "half".into())))
        );
    }
}
