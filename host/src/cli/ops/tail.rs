//! `wasmq tail [QUEUE]`: completions and failures as they happen, one line
//! per task with what its run cost.
//!
//! It listens on the namespace's completion channel (`<ns>:done`, announced
//! by every ack) and failure channel (`<ns>:failed`, announced by retries
//! and dead-letters), both on when hosts run with `publish_completions`
//! (the default), and reads each task's last attempt from its run history
//! (one `HGETALL` per task, see `broker/runs.rs`). Pub/sub is at most once:
//! a tail that cannot keep up, or reconnects, misses lines, never tasks —
//! it is a view for people, not a feed for programs that must see every
//! task. `--count N` stops after N lines (for scripts and tests).

use std::time::SystemTime;

use clap::Args;
use serde::Serialize;

use super::exit::within;
use super::table::{emit, timestamp};
use super::{BadInput, Common};
use crate::Client;
use crate::broker::Attempt;
use crate::task::TaskId;

/// Arguments of `wasmq tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only tasks of this queue (default: every queue).
    pub queue: Option<String>,
    /// Stop after N lines.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    #[command(flatten)]
    pub common: Common,
}

/// One line of the tail.
#[derive(Debug, Serialize)]
struct Line {
    id: String,
    event: &'static str,
    state: Option<String>,
    attempt: Option<Attempt>,
}

/// Runs `wasmq tail`.
pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    if let Some(q) = &args.queue {
        crate::error::validate_queue_name(q).map_err(|e| BadInput(e.to_string()))?;
    }
    let client = args.common.connect().await?;
    let mut done = within("subscribe to completions", client.completion_subscription()).await?;
    let mut failed = within("subscribe to failures", client.failure_subscription()).await?;
    if !args.common.json {
        let what = args.queue.as_deref().unwrap_or("every queue");
        eprintln!("tailing completions and failures of {what}; Ctrl-C to stop");
    }
    let mut printed = 0;
    let mut missed = 0;
    loop {
        let (id, event) = tokio::select! {
            id = done.next() => (id, "completed"),
            id = failed.next() => (id, "failed"),
        };
        let Some(id) = id else {
            anyhow::bail!("the connection to Redis ended; run `wasmq tail` again");
        };
        let now_missed = done.missed() + failed.missed();
        if now_missed > missed {
            eprintln!(
                "wasmq tail: fell behind and skipped {} tasks (see `wasmq tasks list QUEUE --state completed`)",
                now_missed - missed
            );
            missed = now_missed;
        }
        if args.queue.as_deref().is_some_and(|q| q != id.queue()) {
            continue;
        }
        let line = line(&client, id, event).await?;
        if args.common.json {
            emit(serde_json::to_string(&line)? + "\n")?;
        } else {
            emit(describe(&line) + "\n")?;
        }
        printed += 1;
        if args.count.is_some_and(|n| printed >= n) {
            return Ok(());
        }
    }
}

async fn line(client: &Client, id: TaskId, event: &'static str) -> anyhow::Result<Line> {
    let runs = within(&format!("read the runs of {id}"), client.task_runs(&id)).await?;
    // A failure's state says whether it will be retried or is dead.
    let state = match event {
        "failed" => within(&format!("look up {id}"), client.status(&id))
            .await?
            .map(|s| s.state.to_string()),
        _ => Some("completed".to_owned()),
    };
    Ok(Line {
        id: id.to_string(),
        event,
        state,
        attempt: runs.attempts.into_iter().last(),
    })
}

/// `<time> <state> <id> attempt N <outcome> wall … fuel … mem … v… [error]`.
fn describe(line: &Line) -> String {
    let mut out = format!(
        "{} {:<10} {}",
        timestamp(Some(SystemTime::now())),
        line.state.as_deref().unwrap_or(line.event),
        line.id
    );
    if let Some(a) = &line.attempt {
        out.push_str(&format!(" attempt {} {}", a.attempt, a.outcome));
        if let Some(ms) = a.wall_ms {
            out.push_str(&format!(" wall {ms} ms"));
        }
        if let Some(fuel) = a.fuel_used {
            out.push_str(&format!(" fuel {fuel}"));
        }
        if let Some(peak) = a.peak_memory {
            out.push_str(&format!(" mem {} KiB", peak / 1024));
        }
        if let Some(v) = &a.plugin_version {
            out.push_str(&format!(" v{v}"));
        }
        if let Some(e) = &a.error {
            let e: String = e.chars().take(120).collect();
            out.push_str(&format!(" error: {}", e.replace('\n', " ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_the_cost() {
        let line = Line {
            id: "echo:1a".into(),
            event: "completed",
            state: Some("completed".into()),
            attempt: Some(Attempt {
                attempt: 1,
                started_at_ms: None,
                finished_at_ms: None,
                outcome: "success".into(),
                wall_ms: Some(3),
                fuel_used: Some(1234),
                peak_memory: Some(2048 * 1024),
                plugin_version: Some("1.0.0".into()),
                error: None,
                log: None,
            }),
        };
        let text = describe(&line);
        for needle in [
            "completed",
            "echo:1a",
            "attempt 1 success",
            "wall 3 ms",
            "fuel 1234",
            "mem 2048 KiB",
            "v1.0.0",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
