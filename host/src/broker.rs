//! The Redis broker: queues, leases, retries, results and stats.
//!
//! The broker knows nothing of wasm. Producers enqueue with [`Client`]; hosts
//! lease tasks, run them, and settle each lease (ack, retry, dead, release).
//!
//! # Guarantees
//!
//! Every state change is one Lua script (`broker/lua/*.lua`), so a task is always in
//! exactly one place, whatever the number of hosts:
//!
//! * **No loss.** A lease moves tasks from a pending list to the active set
//!   in the same script (no pop-then-push window); a host that dies leaves
//!   its tasks in the active set with a deadline, and the reaper that every
//!   host runs puts them back (or buries them after their last attempt).
//! * **No duplicates without failures.** Settling requires the lease token; a
//!   consumer whose lease expired gets [`Settlement::StaleLease`] and changes
//!   nothing. Promotion reads and removes due tasks in one script, so racing
//!   promoters never promote twice. (After a failure — a lease that expired
//!   while its host was merely slow — a task can run again: delivery is
//!   at-least-once.)
//! * **Bounded work.** Scripts take at most 1000 tasks; background steps run
//!   with a LIMIT per tick.
//!
//! # Key layout
//!
//! All keys of queue `Q` share the hash tag `{Q}`: `<ns>:{Q}:t` (task bodies),
//! `p0`/`p1`/`p2` (pending ids by priority), `scheduled`, `retry`, `active`
//! (sorted sets by due time or deadline), `lease` (tokens), `meta` (attempt,
//! timestamps, last error), `dead`, `cancel`, `stats`, `tp` (per-minute
//! buckets), `paused`, `wake`, `garbage`, `seq`, plus `res:<n>` and `resix`
//! (final records in time buckets, see `results.rs`), `u:<key>` (unique
//! keys), and `limits`, `rl`, `throttle` (rate limit, concurrency cap and
//! throttle across hosts, read by the lease script; see `limits.rs`). See [`keys`] and
//! `docs/keys.md` for the formats and the measured cost per task.
//!
//! # Connecting
//!
//! `redis://host:port` is one server (`rediss://` for TLS; user and password
//! in the URL). `redis+cluster://host:port`, `?cluster=true`, or several
//! comma-separated URLs select Redis Cluster. The connection reconnects with
//! backoff after Redis restarts; calls made meanwhile fail with a
//! [`BrokerError`] for which [`BrokerError::is_connection`] is true. On
//! Cluster, a client that lost every node is rebuilt from the seed nodes.
//! Every message that shows a URL passes it through [`mask_password`].
//!
//! # Notifications
//!
//! [`Client::cancel_subscription`] streams cancellation requests for running
//! tasks; [`Client::completion_subscription`] streams completed task ids (one
//! PUBLISH per ack call, see [`BrokerOptions::publish_completions`]).
//!
//! # Consumer loop (sketch)
//!
//! ```no_run
//! # async fn run(client: wasmq::Client) -> Result<(), wasmq::broker::BrokerError> {
//! use std::time::Duration;
//! let mut waiter = client.waiter();
//! loop {
//!     let tasks = client.lease("email", 50).await?;
//!     if tasks.is_empty() {
//!         waiter.wait_for_work(&["email"], Duration::from_secs(1)).await?;
//!         continue;
//!     }
//!     // ... run them, then ack_many / retry / dead ...
//! }
//! # }
//! ```

mod admin;
mod browse;
mod client;
mod clock;
mod conn;
mod consumer;
mod costs;
mod dead;
mod due;
mod enqueue;
mod error;
mod flow_resolve;
mod flow_results;
mod flows;
mod hosts;
mod invoke;
pub mod keys;
mod kv;
mod lease;
mod limits;
mod maintainer;
mod maintenance;
mod options;
mod outbox;
mod plugin_store;
mod progress;
mod records;
mod redact;
mod rekey;
mod removal;
mod reply;
mod results;
mod runs;
mod schedules;
mod scripts;
mod sealing;
mod sentinel;
mod servers;
mod settle;
mod stats;
mod subscription;
mod task_actions;
mod waiter;

pub use admin::{CancelOutcome, TaskResult, TaskStatus};
pub use browse::{
    BROWSABLE, MAX_PAGE, PREVIEW_BYTES, Preview, TaskCursor, TaskPage, TaskRow, browse_state,
};
pub use client::Client;
pub(crate) use consumer::group_by_queue;
#[cfg(test)]
pub(crate) use consumer::test_lease;
pub use consumer::{Completion, Failure, LeaseKey, LeasedTask, Settlement};
pub use costs::{COST_KEEP, COST_WINDOW, Quantiles, VersionCost};
pub use dead::{BULK_LIMIT, DeadPage, DeadSelector, DeadTask, RequeueReport};
pub use due::{CLAIM_HOLD, DUE_BUCKETS, DueAt, SWEEP_PERIOD, bucket_of};
pub use error::{BrokerError, BrokerResult};
pub use flow_resolve::FlowReport;
pub use flows::{ChildFailure, FLOW_KEEP, FlowSpec, FlowStatus, MAX_DEPENDENCIES};
pub use hosts::HostInfo;
pub use kv::KvKey;
pub use lease::{CAP_POLL, LeaseBatch};
pub use limits::{MAX_THROTTLE, StoredLimits};
pub use maintainer::{MAX_BACKOFF, Maintainer, MaintenanceReport, TRIM_PERIOD};
pub use maintenance::ReapReport;
pub use options::{BrokerOptions, MAX_BATCH, MAX_DURABLE_REPLICAS, MAX_DURABLE_TIMEOUT};
pub use outbox::{FORWARDED_KEEP, ForwardReport};
pub use plugin_store::{
    BoardEntry, CHUNK_SIZE, HISTORY_KEEP, PluginHistory, PluginStoreError, PointerMove,
    PushedVersion, Reassembly,
};
pub use redact::mask_password;
pub use rekey::RekeyPage;
pub use removal::{QueueContents, QueueRemoval};
pub use runs::{Attempt, MAX_KEPT_LOG, RunReport, TaskRuns};
pub use schedules::{FIRE_UNIQUE_TTL, ScheduleInfo, ScheduleKeys, ScheduleToggle};
pub use sealing::ENCRYPTED;
pub use servers::Servers;
pub use settle::UNDECRYPTABLE;
pub use stats::{Counters, QueueStats, ThroughputPoint};
pub use subscription::{CancelSubscription, MAX_BUFFERED, Subscription};
pub use task_actions::{ActionReport, MAX_SELECTION, Selection, TaskAction};
pub use waiter::Waiter;
