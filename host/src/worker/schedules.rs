//! The schedule loop: every host fires the cron schedules that are due.
//!
//! Each host runs this loop, and any number may: each fire is enqueued with a
//! unique key made of the schedule's name and fire time, then claimed in
//! Redis (see `broker/schedules.rs` for why that order fires each one once,
//! even when a host dies between the two steps). What a due fire does, fire
//! or skip (a fire missed while no host ran, without `catch_up`), and which
//! fire comes next, is decided by [`crate::schedule::decide`].
//!
//! A schedule that fails (its stored definition no longer parses, its
//! queue's Redis shard is down) fails alone: it is logged, counted in
//! `wasmq_schedule_errors_total` and retried with a backoff that doubles
//! from one second to a minute, while other schedules fire on time. The
//! loop stops at its next await once `stop` is cancelled.

use crate::broker::{BrokerError, Client, FIRE_UNIQUE_TTL};
use crate::schedule::{Schedule, ScheduleError, decide};
use crate::task::TaskSpec;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How often the loop looks for due fires. Fires are on whole minutes, so a
/// second is precise enough and costs one `ZRANGEBYSCORE` per host and second.
pub const SCHEDULE_TICK: Duration = Duration::from_secs(1);

/// Due schedules handled per tick.
const DUE_LIMIT: usize = 100;

/// First and longest wait before a failing schedule is tried again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why one fire failed.
#[derive(Debug, thiserror::Error)]
enum FireError {
    /// Redis refused or could not be reached.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The stored definition no longer validates.
    #[error("the stored schedule is invalid: {0}")]
    Invalid(#[from] ScheduleError),
}

/// Fires the due schedules every [`SCHEDULE_TICK`] until `stop`.
pub async fn run_schedules(broker: Client, stop: CancellationToken) {
    let mut backoff: HashMap<String, (Instant, Duration)> = HashMap::new();
    let mut ticker = tokio::time::interval(SCHEDULE_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = broker.schedule_clock_ms();
        let due = tokio::select! {
            _ = stop.cancelled() => return,
            due = broker.schedules_due(now, DUE_LIMIT) => due,
        };
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                warn!(error = %e, "cannot read the due schedules; trying again next tick");
                metrics::counter!("wasmq_schedule_errors_total", "schedule" => "*").increment(1);
                continue;
            }
        };
        for (name, fire) in due {
            if stop.is_cancelled() {
                return;
            }
            if backoff
                .get(&name)
                .is_some_and(|(until, _)| Instant::now() < *until)
            {
                continue;
            }
            match fire_one(&broker, &name, fire).await {
                Ok(()) => {
                    backoff.remove(&name);
                }
                Err(error) => {
                    let wait = backoff
                        .get(&name)
                        .map_or(FIRST_BACKOFF, |(_, last)| (*last * 2).min(MAX_BACKOFF));
                    warn!(schedule = %name, fire_ms = fire, %error, retry_in = ?wait,
                        "a schedule failed to fire; retrying it with backoff");
                    metrics::counter!("wasmq_schedule_errors_total", "schedule" => name.clone())
                        .increment(1);
                    backoff.insert(name, (Instant::now() + wait, wait));
                }
            }
        }
    }
}

/// Enqueues (or skips) the fire `fire` of `name` and claims it.
async fn fire_one(broker: &Client, name: &str, fire: u64) -> Result<(), FireError> {
    let Some(def) = broker.schedule_def(name).await? else {
        return Ok(()); // removed since it was read
    };
    let schedule = Schedule::new(def, broker.options().max_payload_bytes)?;
    let def = schedule.def();
    let now = broker.schedule_clock_ms();
    let (enqueue, next) = decide(schedule.cron(), fire, now, def.catch_up);
    let task = if enqueue {
        let spec = TaskSpec::new(def.task_type.clone(), def.payload.clone())
            .unique(format!("sched:{name}:{fire}"), FIRE_UNIQUE_TTL);
        Some(broker.enqueue(spec).await?.to_string())
    } else {
        None
    };
    let claimed = broker
        .schedule_claim(name, fire, next, task.as_deref())
        .await?;
    if !claimed {
        debug!(schedule = %name, fire_ms = fire, "another host claimed this fire");
        return Ok(());
    }
    match &task {
        Some(task) => {
            metrics::counter!("wasmq_schedule_fires_total", "schedule" => name.to_owned())
                .increment(1);
            info!(schedule = %name, fire_ms = fire, task = %task, next_ms = ?next, "schedule fired");
        }
        None => {
            metrics::counter!("wasmq_schedule_skipped_total", "schedule" => name.to_owned())
                .increment(1);
            info!(schedule = %name, fire_ms = fire, next_ms = ?next,
                "skipped a fire missed while no host ran (catch_up is off)");
        }
    }
    Ok(())
}
