//! `wasmq tasks list|retry|delete|cancel|promote`: the task browser on the
//! command line. `list` shows a page of one queue's tasks in one state and
//! the cursor of the next page; the actions take `--id` (repeatable) or
//! `--all`, and refuse to guess without either (exit 2), as `dead` does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};

use super::exit::{within, within_for};
use super::table::{Table, ellipsize, emit, print_json, relative};
use super::{BadInput, Common};
use crate::broker::{
    MAX_PAGE, MAX_SELECTION, Preview, Selection, TaskAction, TaskCursor, TaskRow, browse_state,
};
use crate::task::{TaskId, TaskState};

/// How long an action on a whole state may take (bounded calls of 1000).
const BULK_DEADLINE: Duration = Duration::from_secs(300);

/// Arguments of `wasmq tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub action: TasksAction,
}

/// Browse or act on one queue's tasks in one state.
#[derive(Debug, Subcommand)]
pub enum TasksAction {
    /// List a page of a queue's tasks in one state.
    #[command(after_help = super::EXIT_CODES_HELP)]
    List(ListArgs),
    /// Run again: re-drive dead tasks, or run retry-waiting and scheduled ones now.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Retry(ActArgs),
    /// Delete pending, scheduled, retry-waiting or dead tasks for good.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Delete(ActArgs),
    /// Cancel pending, scheduled, retry-waiting or active tasks.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Cancel(ActArgs),
    /// Make scheduled or retry-waiting tasks pending now.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Promote(ActArgs),
}

/// Arguments of `wasmq tasks list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The queue (task type).
    pub queue: String,
    /// pending, scheduled, active, retry, dead, completed or cancelled.
    #[arg(long, value_name = "STATE")]
    pub state: String,
    /// Where to start: the cursor the previous page printed.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Tasks per page.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=MAX_PAGE))]
    pub limit: u64,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of the actions.
#[derive(Debug, Args)]
pub struct ActArgs {
    /// The queue (task type).
    pub queue: String,
    /// The state the tasks are in.
    #[arg(long, value_name = "STATE")]
    pub state: String,
    /// This task (repeat for more).
    #[arg(long = "id", value_name = "ID", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Every task of the queue in the state.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `wasmq tasks ...`.
pub async fn run(args: TasksArgs) -> anyhow::Result<()> {
    match args.action {
        TasksAction::List(args) => list(args).await,
        TasksAction::Retry(args) => act(args, TaskAction::Retry).await,
        TasksAction::Delete(args) => act(args, TaskAction::Delete).await,
        TasksAction::Cancel(args) => act(args, TaskAction::Cancel).await,
        TasksAction::Promote(args) => act(args, TaskAction::Promote).await,
    }
}

fn state(text: &str) -> anyhow::Result<TaskState> {
    browse_state(text).map_err(|e| BadInput(format!("--state: {e}")).into())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    crate::error::validate_queue_name(&args.queue)?;
    let state = state(&args.state)?;
    let cursor = args
        .cursor
        .as_deref()
        .map(|c| c.parse::<TaskCursor>())
        .transpose()
        .map_err(|e| BadInput(format!("--cursor: {e}")))?;
    let client = args.common.connect().await?;
    let page = within(
        &format!("list the {state} tasks of queue {}", args.queue),
        client.list_tasks(&args.queue, state, cursor, args.limit),
    )
    .await?;
    if args.common.json {
        return print_json(&page);
    }
    let now = SystemTime::now();
    let at = |ms: Option<u64>| {
        ms.map(|ms| relative(UNIX_EPOCH + Duration::from_millis(ms), now))
            .unwrap_or_else(|| "-".into())
    };
    let mut table = Table::new(["id", "age", "attempts", "last error", "payload"]);
    for task in &page.tasks {
        table.row([
            task.id.to_string(),
            at(task.enqueued_at_ms),
            attempts(task),
            ellipsize(task.last_error.as_deref().unwrap_or("-"), 60),
            preview(task.payload.as_ref().or(task.output.as_ref())),
        ]);
    }
    table.print_or(&format!("no {state} tasks in queue {}", args.queue))?;
    let total = page.total.map(|t| format!(" of {t}")).unwrap_or_default();
    let mut footer = format!("{} {state} task(s){total}", page.tasks.len());
    if let Some(next) = page.next_cursor {
        footer.push_str(&format!("; next page: --cursor {next}"));
    }
    emit(footer + "\n")
}

fn attempts(task: &TaskRow) -> String {
    match task.max_attempts {
        Some(max) => format!("{}/{max}", task.attempts),
        None => task.attempts.to_string(),
    }
}

/// A one-line preview: text as it is, binary as hex, sealed as such.
fn preview(p: Option<&Preview>) -> String {
    let Some(p) = p else { return "-".into() };
    if p.encrypted {
        return format!("(encrypted, {} bytes)", p.size);
    }
    let shown = match std::str::from_utf8(&p.bytes) {
        Ok(text) => text.replace(['\n', '\r', '\t'], " "),
        Err(_) => format!("hex:{}", hex::encode(&p.bytes)),
    };
    ellipsize(&shown, 60)
}

async fn act(args: ActArgs, action: TaskAction) -> anyhow::Result<()> {
    crate::error::validate_queue_name(&args.queue)?;
    let state = state(&args.state)?;
    let selection = match (args.ids.is_empty(), args.all) {
        (true, false) => {
            return Err(BadInput(format!(
                "say which tasks: --id ID (repeatable, at most {MAX_SELECTION}) or --all"
            ))
            .into());
        }
        (_, true) => Selection::All,
        (false, false) => Selection::Ids(
            args.ids
                .iter()
                .map(|id| id.parse::<TaskId>())
                .collect::<Result<_, _>>()?,
        ),
    };
    let client = args.common.connect().await?;
    let report = within_for(
        &format!("{action} the {state} tasks of queue {}", args.queue),
        BULK_DEADLINE,
        client.act_on_tasks(&args.queue, state, action, selection),
    )
    .await?;
    if args.common.json {
        return print_json(&report);
    }
    emit(format!(
        "{action}: {} task(s) done, {} skipped (no longer {state})\n",
        report.done, report.skipped
    ))
}
