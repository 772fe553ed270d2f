//! `wasmq status ID --verbose` and `wasmq logs ID`: a task's run history
//! (every kept attempt with its start, end, outcome, error and cost), its
//! last progress, its output, and the log of each attempt, as the settle
//! scripts keep them (`broker/runs.rs`).

use clap::Args;
use serde::Serialize;

use super::exit::within;
use super::table::{Table, ellipsize, emit, print_json, timestamp_ms};
use super::{Common, Refused};
use crate::Client;
use crate::broker::{Attempt, TaskResult, TaskRuns, TaskStatus};
use crate::task::{TaskId, TaskState};

/// Arguments of `wasmq logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task id (e.g. `email:1a2b`).
    pub id: String,
    /// Only this attempt's log (1 for the first run).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub attempt: Option<u32>,
    #[command(flatten)]
    pub common: Common,
}

/// What `status --verbose --json` prints.
#[derive(Debug, Serialize)]
struct Verbose<'a> {
    status: &'a TaskStatus,
    runs: &'a TaskRuns,
    result: Option<&'a TaskResult>,
}

/// Prints the verbose part of `wasmq status` after the status lines.
pub(super) async fn verbose(
    client: &Client,
    status: &TaskStatus,
    head: String,
    json: bool,
) -> anyhow::Result<()> {
    let id = &status.id;
    let runs = within(&format!("read the runs of task {id}"), client.task_runs(id)).await?;
    let result = match status.state {
        TaskState::Completed => {
            within(&format!("read the result of {id}"), client.result(id)).await?
        }
        _ => None,
    };
    if json {
        return print_json(&Verbose {
            status,
            runs: &runs,
            result: result.as_ref(),
        });
    }
    let mut out = head;
    if let Some((pct, note)) = &runs.progress {
        out.push_str(&format!("{:<13} {pct}% {note}\n", "progress:"));
    }
    out.push('\n');
    out.push_str(&attempts_table(&runs.attempts));
    if let Some(r) = &result {
        out.push_str(&format!(
            "\noutput ({} bytes):\n{}\n",
            r.output.len(),
            output_text(&r.output)
        ));
    }
    let logged: Vec<&Attempt> = runs.attempts.iter().filter(|a| a.log.is_some()).collect();
    if !logged.is_empty() {
        out.push('\n');
        out.push_str(&log_blocks(&logged));
    }
    emit(out)
}

/// Most output bytes `status --verbose` prints.
const OUTPUT_SHOWN: usize = 4000;

/// Output as text when it is UTF-8, else its first bytes in hex.
fn output_text(output: &[u8]) -> String {
    match std::str::from_utf8(output) {
        Ok(text) => ellipsize(text, OUTPUT_SHOWN),
        Err(_) => {
            let shown = &output[..output.len().min(OUTPUT_SHOWN / 2)];
            let more = if shown.len() < output.len() {
                "…"
            } else {
                ""
            };
            format!("(binary) hex:{}{more}", hex::encode(shown))
        }
    }
}

/// Each attempt's log under a header with its outcome, wall time and full
/// error.
fn log_blocks(attempts: &[&Attempt]) -> String {
    let mut out = String::new();
    for a in attempts {
        out.push_str(&format!(
            "--- attempt {} ({}, {} ms) ---\n",
            a.attempt,
            a.outcome,
            a.wall_ms.unwrap_or_default()
        ));
        if let Some(e) = &a.error {
            out.push_str(&format!("error: {e}\n"));
        }
        out.push_str(a.log.as_deref().unwrap_or_default());
        out.push('\n');
    }
    out
}

/// One row per attempt with its cost.
fn attempts_table(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no attempt recorded (it has not run, or its history expired)\n".into();
    }
    let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let mut table = Table::new([
        "attempt",
        "started",
        "finished",
        "outcome",
        "wall ms",
        "fuel",
        "peak memory",
        "plugin",
        "error",
    ]);
    for a in attempts {
        table.row([
            a.attempt.to_string(),
            timestamp_ms(a.started_at_ms),
            timestamp_ms(a.finished_at_ms),
            a.outcome.clone(),
            num(a.wall_ms),
            num(a.fuel_used),
            a.peak_memory
                .map(|b| format!("{} KiB", b / 1024))
                .unwrap_or_else(|| "-".into()),
            a.plugin_version.clone().unwrap_or_else(|| "-".into()),
            ellipsize(
                &a.error
                    .clone()
                    .unwrap_or_else(|| "-".into())
                    .replace('\n', " "),
                60,
            ),
        ]);
    }
    table.render()
}

/// Runs `wasmq logs`.
pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let id: TaskId = args.id.parse()?;
    let client = args.common.connect().await?;
    let runs = within(
        &format!("read the runs of task {id}"),
        client.task_runs(&id),
    )
    .await?;
    let logs: Vec<&Attempt> = runs
        .attempts
        .iter()
        .filter(|a| a.log.is_some() && args.attempt.is_none_or(|n| n == a.attempt))
        .collect();
    if args.common.json {
        return print_json(&logs);
    }
    if logs.is_empty() {
        return Err(Refused(format!(
            "no log kept for task {id}{}: it has not run, its runs logged nothing, or its \
             history expired (the last 5 attempts' logs are kept with its record)",
            args.attempt
                .map(|n| format!(" attempt {n}"))
                .unwrap_or_default()
        ))
        .into());
    }
    emit(log_blocks(&logs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_attempt_and_its_cost() {
        let a = Attempt {
            attempt: 2,
            started_at_ms: Some(1_700_000_000_000),
            finished_at_ms: Some(1_700_000_000_050),
            outcome: "trap".into(),
            wall_ms: Some(50),
            fuel_used: Some(1234),
            peak_memory: Some(2 * 1024 * 1024),
            plugin_version: Some("1.2.0".into()),
            error: Some("boom\nline".into()),
            log: None,
        };
        let text = attempts_table(&[a]);
        for needle in ["trap", "1234", "2048 KiB", "1.2.0", "boom line"] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(attempts_table(&[]).contains("no attempt"));
    }

    #[test]
    fn output_is_text_or_hex() {
        assert_eq!(output_text(b"{\"ok\":true}"), "{\"ok\":true}");
        assert_eq!(output_text(&[0xff, 0x00]), "(binary) hex:ff00");
        let long = output_text(&[0xff; 10_000]);
        assert!(
            long.ends_with('…') && long.len() < OUTPUT_SHOWN + 40,
            "{}",
            long.len()
        );
    }
}
