//! Cron schedules in Redis: definitions, next fires, and the claim that makes
//! each fire happen once however many hosts run.
//!
//! # Keys
//!
//! All four keys share the hash tag `{schedules}`, so every script below
//! runs in one Cluster slot: `<ns>:{schedules}:defs` (`HASH` name →
//! definition JSON), `:next` (`ZSET` name → next fire ms, active schedules
//! only), `:state` (`HASH` name → `<last fire ms>|<fires>|<last task id>`)
//! and `:paused` (`SET` of names). See `docs/keys.md`.
//!
//! # Each fire once
//!
//! A host's schedule loop (`worker/schedules.rs`) reads the fires due from
//! `next`, then for each one (1) enqueues its task with the unique key
//! `sched:<name>:<fire ms>` and (2) claims the fire with
//! `schedule_claim.lua`, which moves `next` on only if it still holds that
//! fire. The two steps cannot be one script: the target queue lives in
//! another slot on Cluster. The order makes them safe anyway:
//!
//! * two hosts that see the same fire both enqueue, and the unique key
//!   gives the second the first one's task: one task; only one claim wins;
//! * a host that dies after (1) leaves `next` on the fire, the next host
//!   enqueues again (deduplicated to the same task) and claims it;
//! * a host that dies before (1) left no trace at all.
//!
//! What remains is a host that read the fire, stalled, and enqueues after
//! another host claimed it: the unique key still holds for
//! [`FIRE_UNIQUE_TTL`] (a day), far longer than any stall that leaves a
//! host alive. Claiming first and enqueueing second would instead lose a
//! fire whenever a host died in between.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::crypto::Field;
use crate::error::validate_namespace;
use crate::schedule::{Schedule, ScheduleDef};
use redis::Value;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// How long a fire's unique key keeps a late, stalled host from enqueueing
/// the fire a second time.
pub const FIRE_UNIQUE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The keys of the schedules of one namespace.
#[derive(Debug, Clone)]
pub struct ScheduleKeys {
    /// `HASH` name → definition JSON.
    pub defs: String,
    /// `ZSET` name → next fire ms (active schedules only).
    pub next: String,
    /// `HASH` name → `<last fire ms>|<fires>|<last task id>`.
    pub state: String,
    /// `SET` of paused names.
    pub paused: String,
}

impl ScheduleKeys {
    fn new(ns: &str) -> BrokerResult<Self> {
        validate_namespace(ns)?;
        let key = |suffix: &str| format!("{ns}:{{schedules}}:{suffix}");
        Ok(Self {
            defs: key("defs"),
            next: key("next"),
            state: key("state"),
            paused: key("paused"),
        })
    }
}

/// A schedule as listed: its definition and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleInfo {
    /// The stored definition.
    #[serde(flatten)]
    pub def: ScheduleDef,
    /// Whether it is paused.
    pub paused: bool,
    /// Its next fire (Unix ms); none while paused or when it has no more.
    pub next_fire_ms: Option<u64>,
    /// Its last fire that enqueued a task (Unix ms).
    pub last_fire_ms: Option<u64>,
    /// How many fires enqueued a task.
    pub fires: u64,
    /// The id of the last task it enqueued.
    pub last_task: Option<String>,
}

/// What pausing or resuming a schedule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleToggle {
    /// It was changed.
    Changed,
    /// It was already paused (or already running).
    Already,
    /// There is no schedule of that name.
    Missing,
}

impl Client {
    /// The schedule keys of this client's namespace.
    pub fn schedule_keys(&self) -> BrokerResult<ScheduleKeys> {
        ScheduleKeys::new(&self.options().namespace)
    }

    /// Adds `schedule`; its first fire is the first after now (Redis's
    /// clock). `Ok(None)` when the name is taken.
    pub async fn schedule_add(&self, schedule: &Schedule) -> BrokerResult<Option<u64>> {
        let keys = self.schedule_keys()?;
        let def = schedule.def();
        let first = schedule
            .cron()
            .next_after(self.redis_now_ms())
            .ok_or_else(|| {
                BrokerError::reply("schedule add", "the expression has no future fire")
            })?;
        // Its payload is a task body to be: sealed like one (encryption
        // at rest), opened again by whoever reads it with the key.
        let mut def = def.clone();
        if self.seals(&def.task_type) {
            def.payload = self.seal(Field::Payload, &def.task_type, &def.payload);
        }
        let json = serde_json::to_string(&def)
            .map_err(|e| BrokerError::reply("schedule add", e.to_string()))?;
        let mut inv = SCRIPTS.schedule_add.prepare_invoke();
        inv.key(&keys.defs)
            .key(&keys.next)
            .key(&keys.state)
            .key(&keys.paused)
            .arg(&def.name)
            .arg(json)
            .arg(first);
        let added = Reply::of("schedule add").int(&self.invoke(&inv, "schedule add").await?)?;
        Ok((added == 1).then_some(first))
    }

    /// Removes the schedule `name`; false when there was none.
    pub async fn schedule_remove(&self, name: &str) -> BrokerResult<bool> {
        let keys = self.schedule_keys()?;
        let mut inv = SCRIPTS.schedule_remove.prepare_invoke();
        inv.key(&keys.defs)
            .key(&keys.next)
            .key(&keys.state)
            .key(&keys.paused)
            .arg(name);
        let removed = self.invoke(&inv, "schedule remove").await?;
        Ok(Reply::of("schedule remove").int(&removed)? == 1)
    }

    /// Pauses (`pause`) or resumes the schedule `name`. A resumed schedule
    /// next fires at the first match after now: fires due while it was
    /// paused are not made up.
    pub async fn schedule_pause(&self, name: &str, pause: bool) -> BrokerResult<ScheduleToggle> {
        let keys = self.schedule_keys()?;
        let what = if pause {
            "pause".to_owned()
        } else {
            let Some(def) = self.schedule_def(name).await? else {
                return Ok(ScheduleToggle::Missing);
            };
            let schedule = Schedule::new(def, usize::MAX)
                .map_err(|e| BrokerError::reply("schedule resume", e.to_string()))?;
            match schedule.cron().next_after(self.redis_now_ms()) {
                Some(next) => next.to_string(),
                None => return Err(BrokerError::reply("schedule resume", "no future fire")),
            }
        };
        let mut inv = SCRIPTS.schedule_pause.prepare_invoke();
        inv.key(&keys.defs)
            .key(&keys.next)
            .key(&keys.paused)
            .arg(name)
            .arg(what);
        let op = if pause {
            "schedule pause"
        } else {
            "schedule resume"
        };
        Ok(match Reply::of(op).int(&self.invoke(&inv, op).await?)? {
            1 => ScheduleToggle::Changed,
            0 => ScheduleToggle::Already,
            _ => ScheduleToggle::Missing,
        })
    }

    /// The stored definition of `name`, if any.
    pub async fn schedule_def(&self, name: &str) -> BrokerResult<Option<ScheduleDef>> {
        let keys = self.schedule_keys()?;
        let json: Option<String> = redis::cmd("HGET")
            .arg(&keys.defs)
            .arg(name)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("read a schedule", e))?;
        json.map(|j| serde_json::from_str(&j))
            .transpose()
            .map(|def| def.map(|def| self.opened(def)))
            .map_err(|e| BrokerError::reply("read a schedule", format!("{name}: {e}")))
    }

    /// `def` with its payload opened when it is sealed and this client
    /// holds the key; as stored otherwise (a fire then fails, retried and
    /// logged, rather than enqueue a payload no host could open).
    fn opened(&self, mut def: ScheduleDef) -> ScheduleDef {
        if let Ok(plain) = self.open_payload(&def.task_type, &def.payload) {
            def.payload = plain;
        }
        def
    }

    /// Every schedule, by name.
    pub async fn schedules(&self) -> BrokerResult<Vec<ScheduleInfo>> {
        let keys = self.schedule_keys()?;
        let fail = |e| self.fail("list the schedules", e);
        let defs: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&keys.defs)
            .query_async(&mut self.conn())
            .await
            .map_err(fail)?;
        let next: HashMap<String, u64> = redis::cmd("ZRANGE")
            .arg(&keys.next)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut self.conn())
            .await
            .map_err(fail)?;
        let paused: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&keys.paused)
            .query_async(&mut self.conn())
            .await
            .map_err(fail)?;
        let state: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&keys.state)
            .query_async(&mut self.conn())
            .await
            .map_err(fail)?;
        let mut out = Vec::new();
        for (name, json) in defs {
            let Ok(def) = serde_json::from_str::<ScheduleDef>(&json) else {
                tracing::warn!(schedule = %name, "skipping a stored schedule that does not parse");
                continue;
            };
            let mut parts = state
                .get(&name)
                .map(|s| s.splitn(3, '|'))
                .into_iter()
                .flatten();
            let last_fire_ms = parts.next().and_then(|p| p.parse().ok());
            let fires = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let last_task = parts.next().map(str::to_owned);
            let def = self.opened(def);
            out.push(ScheduleInfo {
                paused: paused.contains(&name),
                next_fire_ms: next.get(&name).copied(),
                last_fire_ms,
                fires,
                last_task,
                def,
            });
        }
        out.sort_by(|a, b| a.def.name.cmp(&b.def.name));
        Ok(out)
    }

    /// Up to `limit` schedules whose next fire is at or before `now_ms`,
    /// with that fire.
    pub async fn schedules_due(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> BrokerResult<Vec<(String, u64)>> {
        let keys = self.schedule_keys()?;
        redis::cmd("ZRANGEBYSCORE")
            .arg(&keys.next)
            .arg("-inf")
            .arg(now_ms)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("read the due schedules", e))
    }

    /// Claims `fire` of `name`, moving its next fire to `next` (`None`: it
    /// has none), and records `task` (`None`: the fire was skipped). False
    /// when another host claimed it first, or it was paused or removed.
    pub async fn schedule_claim(
        &self,
        name: &str,
        fire: u64,
        next: Option<u64>,
        task: Option<&str>,
    ) -> BrokerResult<bool> {
        let keys = self.schedule_keys()?;
        let mut inv = SCRIPTS.schedule_claim.prepare_invoke();
        inv.key(&keys.next)
            .key(&keys.state)
            .arg(name)
            .arg(fire)
            .arg(next.map(|n| n.to_string()).unwrap_or_default())
            .arg(task.unwrap_or_default());
        let claimed: Value = self.invoke(&inv, "schedule claim").await?;
        Ok(Reply::of("schedule claim").int(&claimed)? == 1)
    }

    /// Redis's clock as this client estimates it (Unix ms), for tests that
    /// place a schedule's next fire.
    pub fn schedule_clock_ms(&self) -> u64 {
        self.redis_now_ms()
    }
}
