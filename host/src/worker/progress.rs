//! Keeping a running task's progress in Redis while it runs.
//!
//! The runtime sends each progress report into a `ProgressFeed` and never
//! waits (`runtime/invocation.rs`); this module reads the feed and keeps the
//! latest report with the task (`Client::report_progress`, fenced by the
//! lease token). Most plugins never report, so nothing is spawned until the
//! first report: [`run_with_progress`] only watches the feed beside the run,
//! and a plugin that reports gets one writer task, which writes at most once
//! per [`EVERY`] and is aborted when the run ends. A write that fails or
//! hangs costs that report only: the run never waits for Redis, and the
//! settle writes the attempt's last progress anyway.

use crate::Client;
use crate::broker::LeaseKey;
use crate::runtime::{Outcome, ProgressReports};
use std::future::Future;
use std::time::Duration;
use tracing::debug;

/// Least time between two writes of one run's progress.
pub const EVERY: Duration = Duration::from_secs(1);
/// Longest wait for one write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Awaits `run`; once the plugin first reports progress, a writer keeps the
/// latest report with the task until the run ends.
pub(crate) async fn run_with_progress(
    broker: &Client,
    lease: &LeaseKey,
    mut reports: ProgressReports,
    run: impl Future<Output = Outcome>,
) -> Outcome {
    let mut run = std::pin::pin!(run);
    // The run, or its first report, whichever comes first.
    let reported = tokio::select! {
        biased;
        outcome = &mut run => return outcome,
        changed = reports.changed() => changed.is_ok(),
    };
    if !reported {
        return run.await;
    }
    let writer = tokio::spawn(write_reports(broker.clone(), lease.clone(), reports));
    let outcome = run.await;
    // Before the verdict: the settle's own write of the progress comes last.
    writer.abort();
    outcome
}

/// Writes the latest report, then waits [`EVERY`] and for a newer one.
async fn write_reports(broker: Client, lease: LeaseKey, mut reports: ProgressReports) {
    loop {
        let latest = reports.borrow_and_update().clone();
        if let Some((percent, note)) = latest {
            let write = broker.report_progress(&lease, percent, &note);
            match tokio::time::timeout(WRITE_TIMEOUT, write).await {
                Ok(Ok(true)) => {}
                // The lease moved on: nothing more to keep for this run.
                Ok(Ok(false)) => return,
                Ok(Err(e)) => debug!(task_id = %lease.id, error = %e, "progress not kept"),
                Err(_) => debug!(task_id = %lease.id, "progress not kept: Redis is slow"),
            }
        }
        tokio::time::sleep(EVERY).await;
        if reports.changed().await.is_err() {
            return;
        }
    }
}
