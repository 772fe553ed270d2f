//! Queues and the dead-letter set, as the API shows them.

use crate::broker::{Counters, DeadTask, QueueStats};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Tasks of a queue per state.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct QueueSizes {
    /// Ready to be leased (all priorities).
    pub pending: u64,
    /// Waiting for their run-at time.
    pub scheduled: u64,
    /// Leased and running.
    pub active: u64,
    /// Waiting out a retry backoff.
    pub retry_wait: u64,
    /// In the dead-letter set.
    pub dead: u64,
    /// Flow parents waiting for their dependencies.
    pub waiting: u64,
}

impl QueueSizes {
    /// The sizes as `(state label, count)`, as the `wasmq_queue_depth` gauge
    /// labels them.
    pub fn by_state(&self) -> [(&'static str, u64); 6] {
        [
            ("pending", self.pending),
            ("scheduled", self.scheduled),
            ("active", self.active),
            ("retry-wait", self.retry_wait),
            ("dead", self.dead),
            ("waiting", self.waiting),
        ]
    }

    /// Adds another queue's sizes to these.
    pub fn add(&mut self, other: &QueueSizes) {
        self.pending += other.pending;
        self.scheduled += other.scheduled;
        self.active += other.active;
        self.retry_wait += other.retry_wait;
        self.dead += other.dead;
        self.waiting += other.waiting;
    }
}

/// Pending tasks per priority.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct PrioritySizes {
    /// Leased first.
    pub high: u64,
    /// The default.
    pub normal: u64,
    /// Leased last.
    pub low: u64,
}

/// Lifetime counters of a queue (or of all of them).
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct CountersDto {
    /// Tasks accepted (duplicates of a unique key not counted).
    pub enqueued: u64,
    /// Tasks acked.
    pub completed: u64,
    /// Attempts that ended without success.
    pub failed: u64,
    /// Failed attempts scheduled for another try.
    pub retried: u64,
    /// Tasks moved to the dead-letter set.
    pub dead: u64,
    /// Tasks cancelled.
    pub cancelled: u64,
    /// Leases that expired and were reaped.
    pub expired: u64,
    /// Dead tasks re-driven.
    pub redriven: u64,
}

impl From<Counters> for CountersDto {
    fn from(c: Counters) -> Self {
        Self {
            enqueued: c.enqueued,
            completed: c.completed,
            failed: c.failed,
            retried: c.retried,
            dead: c.dead,
            cancelled: c.cancelled,
            expired: c.expired,
            redriven: c.redriven,
        }
    }
}

impl CountersDto {
    /// Adds another queue's counters to these.
    pub fn add(&mut self, o: &CountersDto) {
        self.enqueued += o.enqueued;
        self.completed += o.completed;
        self.failed += o.failed;
        self.retried += o.retried;
        self.dead += o.dead;
        self.cancelled += o.cancelled;
        self.expired += o.expired;
        self.redriven += o.redriven;
    }
}

/// One queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueDto {
    /// The queue (task type) name.
    pub name: String,
    /// True while paused: nothing is leased from it.
    pub paused: bool,
    /// Tasks per state.
    pub sizes: QueueSizes,
    /// Pending tasks per priority.
    pub pending_by_priority: PrioritySizes,
    /// Lifetime counters.
    pub counters: CountersDto,
    /// Live hosts with a plugin for this task type (0: nothing drains the
    /// queue now, perhaps a mistyped type). Absent where not looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_hosts: Option<u64>,
    /// Whether the counters show that a consumer ever ran its tasks.
    pub ever_run: bool,
}

impl From<QueueStats> for QueueDto {
    fn from(s: QueueStats) -> Self {
        let [high, normal, low] = s.pending_by_priority;
        Self {
            name: s.queue,
            paused: s.paused,
            sizes: QueueSizes {
                pending: s.pending,
                scheduled: s.scheduled,
                active: s.active,
                retry_wait: s.retry_wait,
                dead: s.dead,
                waiting: s.waiting,
            },
            pending_by_priority: PrioritySizes { high, normal, low },
            ever_run: s.counters.ever_run(),
            counters: s.counters.into(),
            live_hosts: None,
        }
    }
}

/// Every queue of the namespace, sorted by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuesResponse {
    /// The queues.
    pub queues: Vec<QueueDto>,
}

/// A removed queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RemoveQueueResponse {
    /// The queue.
    pub queue: String,
    /// Always true: a queue that cannot be removed gets an error instead.
    pub removed: bool,
}

/// The state of a queue after pause or resume.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PauseResponse {
    /// The queue.
    pub queue: String,
    /// Whether it is paused now.
    pub paused: bool,
}

/// Which page of the dead-letter set to list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadQuery {
    /// Only this queue; every queue when absent.
    pub queue: Option<String>,
    /// Entries to skip, newest first (default 0).
    pub offset: Option<u64>,
    /// Entries to return, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// One dead task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadTaskDto {
    /// The task id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// When it died, ms since the Unix epoch.
    pub died_at_ms: u64,
    /// Attempts it had.
    pub attempts: u32,
    /// Why it died (`retries-exhausted`, `permanent`, ...).
    pub reason: Option<String>,
    /// The last error.
    pub error: Option<String>,
    /// The plugin version that last ran it.
    pub plugin_version: Option<String>,
    /// Its priority, if its body is intact.
    pub priority: Option<String>,
    /// When it was enqueued, if its body is intact.
    pub enqueued_at_ms: Option<u64>,
}

impl From<DeadTask> for DeadTaskDto {
    fn from(t: DeadTask) -> Self {
        Self {
            queue: t.id.queue().to_owned(),
            id: t.id.to_string(),
            died_at_ms: t.died_at_ms,
            attempts: t.attempts,
            reason: t.reason,
            error: t.last_error,
            plugin_version: t.plugin_version,
            priority: t.priority.map(|p| p.as_str().to_owned()),
            enqueued_at_ms: t.enqueued_at_ms,
        }
    }
}

/// A page of dead tasks, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadListResponse {
    /// Dead tasks in the selected queues.
    pub total: u64,
    /// Entries skipped.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
    /// The server's clock, to show ages without trusting the browser's.
    pub now_ms: u64,
    /// This page.
    pub tasks: Vec<DeadTaskDto>,
}

/// Which dead tasks to re-drive or purge: exactly one of `id`, `queue`, or
/// `all: true`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadActionRequest {
    /// Every dead task of this queue (or, with `id`, the id's queue).
    pub queue: Option<String>,
    /// Only this task.
    pub id: Option<String>,
    /// Every dead task of every queue.
    #[serde(default)]
    pub all: bool,
}

/// What a re-drive did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequeueResponse {
    /// Tasks back in their pending lists with a fresh attempt count.
    pub requeued: u64,
    /// Entries with no usable body, deleted instead.
    pub dropped: u64,
}

/// What a purge did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurgeResponse {
    /// Dead tasks deleted for good.
    pub purged: u64,
}
