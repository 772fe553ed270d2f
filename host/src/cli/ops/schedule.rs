//! `wasmq schedule add|list|rm|pause|resume`: cron schedules from the shell.
//!
//! Every flag is validated here (name, cron expression, time zone, task
//! type, payload) before anything touches Redis, with the broker's own rules
//! (`crate::schedule`), so a typo is exit code 2 with a message naming the
//! flag. A missing schedule or a taken name is exit code 1. The hosts' schedule
//! loops do the firing; these commands only edit what they read.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::exit::within;
use super::input::json_payload;
use super::table::{Table, emit, print_json, timestamp_ms};
use super::{BadInput, Common, Refused};
use crate::broker::ScheduleToggle;
use crate::schedule::{Schedule, ScheduleDef, validate_schedule_name};

/// Arguments of `wasmq schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: ScheduleAction,
}

/// The `schedule` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Add a schedule that enqueues a task on every match of a cron expression.
    Add(AddArgs),
    /// List the schedules with their next fire.
    List(ListArgs),
    /// Remove a schedule (tasks it enqueued stay).
    Rm(NameArgs),
    /// Stop a schedule firing until `schedule resume`.
    Pause(NameArgs),
    /// Fire a paused schedule again, from its next match after now.
    Resume(NameArgs),
}

/// Arguments of `wasmq schedule add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The schedule's name (1 to 64 of A-Z a-z 0-9 _ . -).
    pub name: String,
    /// Five-field cron expression, e.g. "0 3 * * *" (03:00 every day).
    #[arg(long, value_name = "EXPR")]
    pub cron: String,
    /// IANA time zone the expression is read in (default UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// The task type each fire enqueues.
    #[arg(long = "type", value_name = "TYPE")]
    pub task_type: String,
    /// The payload of every fire's task, as JSON (default empty).
    #[arg(long, value_name = "JSON")]
    pub payload: Option<String>,
    /// Fire once on start for a fire missed while no host ran (default: skip it).
    #[arg(long)]
    pub catch_up: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq schedule list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: Common,
}

/// Arguments naming one schedule.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The schedule's name.
    pub name: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Serialize)]
struct Added<'a> {
    name: &'a str,
    next_fire_ms: u64,
}

/// Runs `wasmq schedule ...`.
pub async fn run(args: ScheduleArgs) -> anyhow::Result<()> {
    match args.action {
        ScheduleAction::Add(add) => self::add(add).await,
        ScheduleAction::List(list) => self::list(list).await,
        ScheduleAction::Rm(rm) => remove(rm).await,
        ScheduleAction::Pause(args) => toggle(args, true).await,
        ScheduleAction::Resume(args) => toggle(args, false).await,
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let payload = match &args.payload {
        Some(text) => json_payload(text)?,
        None => Vec::new(),
    };
    let def = ScheduleDef {
        name: args.name.clone(),
        cron: args.cron.clone(),
        tz: args.tz.clone(),
        task_type: args.task_type.clone(),
        payload,
        catch_up: args.catch_up,
    };
    let limit = crate::broker::BrokerOptions::default().max_payload_bytes;
    let schedule = Schedule::new(def, limit).map_err(|e| BadInput(e.to_string()))?;
    let client = args.common.connect().await?;
    let added = within(
        &format!("add schedule {}", args.name),
        client.schedule_add(&schedule),
    )
    .await?;
    let Some(next) = added else {
        return Err(Refused(format!(
            "schedule {} already exists; remove it first with `wasmq schedule rm {}`",
            args.name, args.name
        ))
        .into());
    };
    if args.common.json {
        return print_json(&Added {
            name: &args.name,
            next_fire_ms: next,
        });
    }
    emit(format!(
        "added schedule {}: next fire {}\n",
        args.name,
        timestamp_ms(Some(next))
    ))
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = args.common.connect().await?;
    let schedules = within("list the schedules", client.schedules()).await?;
    if args.common.json {
        return print_json(&schedules);
    }
    let mut table = Table::new([
        "name",
        "cron",
        "tz",
        "type",
        "catch-up",
        "paused",
        "next fire",
        "fires",
        "last task",
    ]);
    for s in &schedules {
        table.row([
            s.def.name.clone(),
            s.def.cron.clone(),
            s.def.tz.clone().unwrap_or_else(|| "UTC".into()),
            s.def.task_type.clone(),
            s.def.catch_up.to_string(),
            s.paused.to_string(),
            s.next_fire_ms
                .map_or("-".into(), |ms| timestamp_ms(Some(ms))),
            s.fires.to_string(),
            s.last_task.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    table.print_or("no schedules; add one with `wasmq schedule add`")
}

fn check_name(name: &str) -> anyhow::Result<()> {
    validate_schedule_name(name).map_err(|e| BadInput(e.to_string()).into())
}

async fn remove(args: NameArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let client = args.common.connect().await?;
    let what = format!("remove schedule {}", args.name);
    if !within(&what, client.schedule_remove(&args.name)).await? {
        return Err(Refused(format!("no schedule named {}", args.name)).into());
    }
    if args.common.json {
        return print_json(&serde_json::json!({ "name": args.name, "removed": true }));
    }
    emit(format!("removed schedule {}\n", args.name))
}

async fn toggle(args: NameArgs, pause: bool) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let client = args.common.connect().await?;
    let verb = if pause { "pause" } else { "resume" };
    let what = format!("{verb} schedule {}", args.name);
    let outcome = within(&what, client.schedule_pause(&args.name, pause)).await?;
    if outcome == ScheduleToggle::Missing {
        return Err(Refused(format!("no schedule named {}", args.name)).into());
    }
    if args.common.json {
        return print_json(&serde_json::json!({ "name": args.name, "paused": pause }));
    }
    let state = if pause { "paused" } else { "running" };
    let note = if outcome == ScheduleToggle::Already {
        " (it already was)"
    } else {
        ""
    };
    emit(format!("schedule {} is {state}{note}\n", args.name))
}
