//! Flows: a parent task that runs only once the tasks it waits for (its
//! dependencies: children enqueued before it, or any listed ids) settled.
//!
//! On a Redis Cluster the parent's queue and its dependencies' queues sit
//! in different hash slots, so "every dependency settled" cannot be checked
//! by one script. The design splits the question along slot lines:
//!
//! * **Parent slot.** [`Client::enqueue_flow`] does not make the parent
//!   pending: `flow_enqueue.lua` stores its body in a flow hash
//!   (`<ns>:{Q}:fl:<id>`, with the policy, the dependency ids and the count
//!   of outstanding ones) and holds its id in the queue's waiting set
//!   (`<ns>:{Q}:waiting`). Only `flow_settle.lua` moves it on, in the same
//!   slot: it records a dependency's outcome under `s:<dependency id>` with
//!   `HSETNX` and decrements the count only when that field was new, so a
//!   dependency is counted **once** however often it is reported. At zero
//!   the parent becomes pending; with policy [`ChildFailure::Fail`] a dead
//!   or cancelled dependency buries it at once (reason `child-failed`, the
//!   error naming the dependency).
//! * **Dependency slots.** The resolver (`flow_resolve.rs`) reads each
//!   outstanding dependency's state with the read-only `status.lua`, one
//!   atomic look in that dependency's own slot, and reports the settled
//!   ones to the parent's slot. Completed, dead and cancelled are final, so
//!   a report can never be wrong later; a dependency requeued from the dead
//!   set after it was counted stays counted as dead.
//!
//! The resolver runs right after the enqueue (so dependencies settled
//! before the flow existed count at once, and a flow whose dependencies
//! all settled is pending before `enqueue_flow` returns) and on every
//! maintenance tick of the parent's queue, by any host: a host that dies
//! mid-way leaves the flow waiting for the next tick, and repeats are
//! no-ops. The cost is one status look per outstanding dependency per tick
//! while the parent waits.
//!
//! A dependency whose record is gone (completed with no result kept, or
//! trimmed from the dead set) is counted as `gone`: settled, not failed.

use super::admin::TaskStatus;
use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::error::ValidationError;
use crate::task::{ChildState, FLOW_PREFIX, Schedule, TaskId, TaskSpec};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tracing::{instrument, warn};

/// Most dependencies one flow may wait for.
pub const MAX_DEPENDENCIES: usize = 10_000;

/// How long a flow hash (the tree `wasmq status` shows) outlives the
/// release or burial of its parent.
pub const FLOW_KEEP: Duration = Duration::from_secs(24 * 3600);

/// Status looks in flight at once, at enqueue and in the resolver.
pub(crate) const LOOK_CONCURRENCY: usize = 16;

/// What a flow parent does when a dependency dies (or is cancelled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildFailure {
    /// The parent goes to the dead set, its error naming the dependency.
    #[default]
    Fail,
    /// The parent runs anyway once every dependency settled.
    Continue,
}

impl ChildFailure {
    /// The name used in Redis, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildFailure::Fail => "fail",
            ChildFailure::Continue => "continue",
        }
    }
}

impl std::str::FromStr for ChildFailure {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(ChildFailure::Fail),
            "continue" => Ok(ChildFailure::Continue),
            other => Err(ValidationError::Flow {
                reason: format!("on_child_failure {other:?} is not \"fail\" or \"continue\""),
            }),
        }
    }
}

/// A parent task and the ids it waits for.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    /// The parent (no delay, time or unique key: it runs when released).
    pub parent: TaskSpec,
    /// The tasks it waits for (1 to [`MAX_DEPENDENCIES`], no repeats).
    pub after: Vec<TaskId>,
    /// What it does when one of them dies.
    pub on_child_failure: ChildFailure,
}

/// A flow as its parent's slot records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowStatus {
    /// The parent's id.
    pub id: TaskId,
    /// Its policy.
    pub on_child_failure: ChildFailure,
    /// `waiting`, `released`, `dead` or `cancelled`.
    pub outcome: String,
    /// Dependencies not yet counted in.
    pub outstanding: u64,
    /// Every dependency with the state it was counted in with, if it was.
    pub dependencies: Vec<(TaskId, Option<String>)>,
}

/// A flow hash's fields as text, less `body`: the parent's task body,
/// which is not UTF-8 once its payload is sealed (encryption at rest).
pub(crate) fn text_fields(raw: HashMap<String, Vec<u8>>) -> HashMap<String, String> {
    raw.into_iter()
        .filter(|(field, _)| field != "body")
        .map(|(field, value)| (field, String::from_utf8_lossy(&value).into_owned()))
        .collect()
}

impl Client {
    /// Enqueues `flow.parent` to run once every task of `flow.after` has
    /// settled (completed, dead or cancelled), and returns its id. Refused,
    /// with nothing written, for an id in `after` that no queue holds, a
    /// repeated id, more than [`MAX_DEPENDENCIES`] ids, or a parent with a
    /// schedule or unique key.
    #[instrument(skip_all, fields(task_id, kind = %flow.parent.queue))]
    pub async fn enqueue_flow(&self, flow: FlowSpec) -> BrokerResult<TaskId> {
        let refuse = |reason: String| BrokerError::from(ValidationError::Flow { reason });
        let spec = &flow.parent;
        let n = flow.after.len();
        if n == 0 || n > MAX_DEPENDENCIES {
            return Err(refuse(format!(
                "{n} dependencies; a flow waits for 1 to {MAX_DEPENDENCIES}"
            )));
        }
        let mut seen = HashSet::with_capacity(n);
        if let Some(dup) = flow.after.iter().find(|id| !seen.insert(*id)) {
            return Err(refuse(format!("dependency {dup} is listed twice")));
        }
        if !matches!(spec.schedule, Schedule::Now) || spec.unique.is_some() {
            return Err(refuse(
                "a flow parent takes no delay, time or unique key: it runs when released".into(),
            ));
        }
        let enqueued_at_ms = self.inner.clock.host_ms();
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_millis(enqueued_at_ms);
        self.validate(spec, now)?;
        let states = self.dependency_states(&flow.after).await?;
        if let Some((id, _)) = states.iter().find(|(_, s)| s.is_none()) {
            return Err(refuse(format!(
                "dependency {id} is unknown (no queue holds it, or its record expired)"
            )));
        }
        let keys = self.keys(&spec.queue)?;
        self.register_queue(&spec.queue).await?;
        let local = format!("{FLOW_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let id = TaskId::from_parts(&spec.queue, &local);
        let record = self.record_of(spec, enqueued_at_ms);
        let deps: Vec<String> = flow.after.iter().map(ToString::to_string).collect();
        // A waiting parent is resolved by maintenance visits: index the
        // queue before and after the write (due.rs).
        let due = [(spec.queue.as_str(), super::due::DueAt::Now)];
        self.mark_due(&due).await?;
        let mut inv = SCRIPTS.flow_enqueue.prepare_invoke();
        inv.key(&keys.waiting)
            .key(keys.flow(&local))
            .key(&keys.tasks)
            .key(&keys.stats)
            .arg(&local)
            .arg(flow.on_child_failure.as_str())
            .arg(record.priority.level())
            .arg(record.encode())
            .arg(n)
            .arg(deps.join(" "));
        let op = format!("enqueue flow parent to queue {:?}", spec.queue);
        Reply::of(&op).int(&self.invoke(&inv, &op).await?)?;
        self.mark_due_or_warn(&spec.queue, super::due::DueAt::Now)
            .await;
        tracing::Span::current().record("task_id", tracing::field::display(&id));
        metrics::counter!("wasmq_flows_enqueued_total", "queue" => spec.queue.clone()).increment(1);
        // Dependencies already settled count at once; when none was, the
        // pass would only repeat the looks just made (one that settled
        // since is counted by the next maintenance tick). The flow exists
        // now, so a failure here must not read as "not enqueued" (a caller
        // would enqueue it twice): the next tick resolves it instead.
        let settled = |s: &Option<String>| s.as_deref().and_then(ChildState::parse).is_some();
        if states.iter().any(|(_, s)| settled(s))
            && let Err(e) = self.resolve_flow(&keys, &local).await
        {
            warn!(task_id = %id, error = %e, "could not resolve a new flow yet; maintenance will");
        }
        Ok(id)
    }

    /// The status of each id, looked up concurrently, in order: `None`
    /// when unknown.
    pub(crate) async fn dependency_statuses(
        &self,
        ids: &[TaskId],
    ) -> BrokerResult<Vec<(TaskId, Option<TaskStatus>)>> {
        stream::iter(ids.iter().cloned())
            .map(|id| async move {
                let status = self.status(&id).await?;
                Ok::<_, BrokerError>((id, status))
            })
            .buffered(LOOK_CONCURRENCY)
            .try_collect()
            .await
    }

    /// The state of each id ([`Client::dependency_statuses`]): `None` when
    /// unknown, else its state name.
    pub(crate) async fn dependency_states(
        &self,
        ids: &[TaskId],
    ) -> BrokerResult<Vec<(TaskId, Option<String>)>> {
        Ok(self
            .dependency_statuses(ids)
            .await?
            .into_iter()
            .map(|(id, s)| (id, s.map(|s| s.state.as_str().to_owned())))
            .collect())
    }

    /// The flow whose parent is `id`, while its flow hash lives (waiting,
    /// and for [`FLOW_KEEP`] after); `None` for a task that is no flow.
    pub async fn flow(&self, id: &TaskId) -> BrokerResult<Option<FlowStatus>> {
        let keys = self.keys(id.queue())?;
        let fields = text_fields(
            redis::cmd("HGETALL")
                .arg(keys.flow(id.local()))
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(format!("read flow {id}"), e))?,
        );
        if fields.is_empty() {
            return Ok(None);
        }
        let bad = |what: &str| BrokerError::reply(format!("read flow {id}"), what.to_owned());
        let policy = fields
            .get("policy")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("no policy"))?;
        let outstanding = fields
            .get("need")
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| bad("no count"))?;
        let mut dependencies = Vec::new();
        for dep in fields
            .get("deps")
            .map(String::as_str)
            .unwrap_or("")
            .split(' ')
        {
            let dep_id: TaskId = dep.parse().map_err(|_| bad("a malformed dependency id"))?;
            dependencies.push((dep_id, fields.get(&format!("s:{dep}")).cloned()));
        }
        Ok(Some(FlowStatus {
            id: id.clone(),
            on_child_failure: policy,
            outcome: fields
                .get("outcome")
                .cloned()
                .unwrap_or_else(|| "waiting".into()),
            outstanding: u64::try_from(outstanding).unwrap_or(0),
            dependencies,
        }))
    }
}
