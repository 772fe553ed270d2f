//! `wasmq enqueue`: put one task in a queue from the shell.
//!
//! The payload is bytes. `--payload` is documented as JSON and checked to be
//! JSON, because a typo in a hand-written payload is the most common mistake
//! and the plugin would only report it much later; `--payload-file` and `-`
//! (stdin) take raw bytes for everything else. The payload is stored exactly
//! as given.
//!
//! Enqueueing for a type no live host serves is allowed (hosts may start
//! later; the task waits), but it is usually a typo in the type, so the
//! command warns on stderr.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use tracing::{Span, instrument};

use super::exit::within;
use super::input::{file_payload, json_payload, parse_at, schedule};
use super::{BadInput, Common};
use crate::Client;
use crate::broker::{ChildFailure, FlowSpec};
use crate::config::units::parse_duration;
use crate::error::ValidationError;
use crate::task::{Priority, TaskId, TaskSpec};

/// Arguments of `wasmq enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The task type: also the queue and the plugin (`<type>.wasm`) that runs it.
    #[arg(value_name = "TYPE")]
    pub task_type: String,
    /// `-` reads the payload (raw bytes) from standard input.
    #[arg(value_name = "-", value_parser = ["-"], conflicts_with_all = ["payload", "payload_file"])]
    pub stdin: Option<String>,
    /// The payload as JSON text (checked to be valid JSON, stored as written).
    /// Without --payload, --payload-file or `-` the payload is empty.
    #[arg(long, value_name = "JSON", conflicts_with = "payload_file")]
    pub payload: Option<String>,
    /// Read the payload (raw bytes) from a file; `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// high, normal or low: higher priorities are always leased first.
    #[arg(long, value_name = "PRIORITY", default_value = "normal", value_parser = parse_priority)]
    pub priority: Priority,
    /// Run after this delay, e.g. `30s`, `5m`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "at")]
    pub delay: Option<Duration>,
    /// Run at this time (RFC 3339 with a zone, e.g. `2030-01-31T09:30:00Z`);
    /// a time in the past runs now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Retries after a failed attempt before the task goes to the dead set.
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Wall-clock limit per attempt, e.g. `10s` (within the plugin's limits).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Fuel budget per attempt (about one unit per instruction).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Deduplicate: while a task with this key exists (up to --unique-ttl),
    /// enqueueing again returns its id instead of a new task.
    #[arg(long, value_name = "KEY")]
    pub unique: Option<String>,
    /// How long the unique key holds, e.g. `1h`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h", requires = "unique")]
    pub unique_ttl: Duration,
    /// Flows: run only after this task settled (repeatable, at most 10 000;
    /// see README "Flows").
    #[arg(long, value_name = "ID", value_parser = parse_task_id, conflicts_with_all = ["delay", "at", "unique"])]
    pub after: Vec<TaskId>,
    /// Flows: when a task of --after dies, `fail` (this task goes to the
    /// dead set) or `continue` (it runs anyway).
    #[arg(long, value_name = "POLICY", default_value = "fail", value_parser = parse_policy, requires = "after")]
    pub on_child_failure: ChildFailure,
    /// Return only once N replicas have the task (Redis WAIT), so a
    /// failover right after cannot lose it; `--durable-enqueue` alone means 1.
    /// Fails (exit 1, naming the id the master accepted) if they do not
    /// confirm within --durable-timeout.
    #[arg(long, value_name = "REPLICAS", num_args = 0..=1, default_missing_value = "1", env = "WASMQ_DURABLE_ENQUEUE")]
    pub durable_enqueue: Option<u32>,
    /// How long --durable-enqueue waits for its replicas.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s", env = "WASMQ_DURABLE_TIMEOUT")]
    pub durable_timeout: Duration,
    #[command(flatten)]
    pub common: Common,
}

fn parse_priority(text: &str) -> Result<Priority, crate::error::ValidationError> {
    text.parse()
}

fn parse_task_id(text: &str) -> Result<TaskId, crate::error::ValidationError> {
    text.parse()
}

fn parse_policy(text: &str) -> Result<ChildFailure, crate::error::ValidationError> {
    text.parse()
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Enqueued {
    id: String,
}

/// Runs `wasmq enqueue`.
#[instrument(skip_all, fields(task_id, task_type = %args.task_type))]
pub async fn run(args: EnqueueArgs) -> anyhow::Result<()> {
    let spec = build_spec(&args)?;
    let client = args
        .common
        .connect_durable(args.durable_enqueue.unwrap_or(0), args.durable_timeout)
        .await?;
    let what = format!("enqueue a task of type {}", args.task_type);
    let id = if args.after.is_empty() {
        within(&what, client.enqueue(spec)).await?
    } else {
        let flow = FlowSpec {
            parent: spec,
            after: args.after.clone(),
            on_child_failure: args.on_child_failure,
        };
        within(&what, client.enqueue_flow(flow)).await?
    };
    Span::current().record("task_id", tracing::field::display(&id));
    if args.common.json {
        super::table::print_json(&Enqueued { id: id.to_string() })?;
    } else {
        super::table::emit(format!("{id}\n"))?;
    }
    warn_if_unserved(&client, &args.task_type).await;
    Ok(())
}

/// Turns the flags into a [`TaskSpec`], printing the `--at` note if any.
fn build_spec(args: &EnqueueArgs) -> anyhow::Result<TaskSpec> {
    crate::error::validate_queue_name(&args.task_type)
        .map_err(|e| BadInput(format!("TYPE: {e}")))?;
    let payload = match (&args.payload, &args.payload_file, &args.stdin) {
        (Some(json), _, _) => json_payload(json)?,
        (None, Some(path), _) => file_payload(path)?,
        (None, None, Some(_)) => file_payload(std::path::Path::new("-"))?,
        (None, None, None) => Vec::new(),
    };
    let now = SystemTime::now();
    let at = args.at.as_deref().map(parse_at).transpose()?;
    let (when, note) = schedule(args.delay, at, now);
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let mut spec = TaskSpec::new(args.task_type.clone(), payload).priority(args.priority);
    spec.schedule = when;
    if let Some(retries) = args.max_retries {
        spec = spec.max_retries(retries);
    }
    if let Some(timeout) = args.timeout {
        spec = spec.timeout(timeout);
    }
    if let Some(fuel) = args.fuel {
        spec = spec.fuel(fuel);
    }
    if let Some(key) = &args.unique {
        spec = spec.unique(key.clone(), args.unique_ttl);
    }
    spec.check_options(now).map_err(|e| match e {
        ValidationError::TaskOption { field, reason, .. } => {
            BadInput(format!("{} {reason}", flag_of(field)))
        }
        other => BadInput(other.to_string()),
    })?;
    Ok(spec)
}

/// The flag that sets a [`TaskSpec`] option, for error messages.
fn flag_of(field: &str) -> String {
    match field {
        "run_at" => "--at".to_owned(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// Warns on stderr when no live host has a plugin for `task_type`. Never
/// fails the command: the task is already enqueued.
async fn warn_if_unserved(client: &Client, task_type: &str) {
    let hosts = match within("list the live hosts", client.hosts())
        .await
        .context("could not check which hosts serve this type")
    {
        Ok(hosts) => hosts,
        Err(e) => {
            eprintln!("warning: {e:#}");
            return;
        }
    };
    let served = hosts
        .iter()
        .flat_map(|host| &host.plugins)
        .any(|plugin| task_type_of(plugin) == task_type);
    if served {
        return;
    }
    let why = if hosts.is_empty() {
        "no host is running".to_owned()
    } else {
        let mut types: Vec<&str> = hosts
            .iter()
            .flat_map(|host| &host.plugins)
            .map(|plugin| task_type_of(plugin))
            .collect();
        types.sort_unstable();
        types.dedup();
        format!(
            "{} live host(s) serve: {}",
            hosts.len(),
            super::table::list_or_dash(types)
        )
    };
    eprintln!(
        "warning: no live host serves task type `{task_type}` right now ({why}); the task \
         waits in its queue until a host with {task_type}.wasm in its plugins directory runs"
    );
}

/// The task type of a heartbeat's plugin entry (`task_type@version`).
pub fn task_type_of(entry: &str) -> &str {
    entry
        .split_once('@')
        .map_or(entry, |(task_type, _)| task_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_errors_name_the_flag() {
        assert_eq!(flag_of("run_at"), "--at");
        assert_eq!(flag_of("unique_ttl"), "--unique-ttl");
        assert_eq!(flag_of("delay"), "--delay");
    }

    #[test]
    fn plugin_entries_name_their_type() {
        assert_eq!(task_type_of("email@1a2b3c"), "email");
        assert_eq!(task_type_of("echo"), "echo");
    }
}
