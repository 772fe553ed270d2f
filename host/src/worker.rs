//! The worker: the only module that joins the broker (Redis) and the plugin
//! runtime (wasm). It leases tasks, runs their plugins, and reports how each
//! ended, for as long as the host runs.
//!
//! ```text
//!             lease (batches)             verdicts (channel)
//!   Redis ──▶ leaser ──▶ scheduler ──▶ executors ──▶ settler ──▶ Redis
//!               ▲        buffers,      (tokio tasks   ack_many per queue,
//!      BLPOP ───┘        caps, RR      on the guest   retry / dead / release
//!                                      runtime)
//!
//!   lease keeper: extends held leases every lease/3, polls cancel flags
//!   cancel listener: pub/sub → trips the task's CancelToken
//!   heartbeat: host record with TTL      maintenance: promote due, reap expired
//!   schedules: enqueue and claim due cron fires (schedules.rs), until shutdown
//!   pushed plugins: board + notices → download → PluginDir::install_pushed (pushed.rs)
//! ```
//!
//! * `leaser.rs` takes work only for the task types the plugin registry
//!   serves, as much as free slots plus a small prefetch allow
//!   (`sched.rs`), and blocks on Redis instead of polling when there is none.
//! * `execute.rs` runs each task in a fresh instance, as a future on the
//!   guest runtime's threads, and
//!   turns the outcome into a verdict with the retry policy of `policy.rs`
//!   (its module docs have the table of which failures are retried).
//! * `settle.rs` batches verdicts into few Redis calls, in one lane per
//!   queue so that a failing queue retries alone, and retries them through
//!   outages.
//! * `inflight.rs` holds every lease, keyed by lease (task id and token),
//!   until its verdict is in Redis; `keeper.rs` extends them per queue and
//!   cancels them.
//!
//! Delivery is at least once. A task is never lost: it is in Redis, leased
//! under a token and a deadline, until a verdict lands; if this host dies the
//! lease expires and any host's reaper hands it out again. A task runs twice
//! only when a host dies or loses Redis for longer than a lease while running
//! it.
//!
//! Shutdown ([`run`] returns once `shutdown` is cancelled and this is done):
//! stop leasing; release buffered tasks at once (back to pending, attempt not
//! counted); let running tasks finish for up to the drain timeout; then
//! cancel the rest (a run stops within [`STOP_GRACE`](crate::runtime::STOP_GRACE)
//! whatever its guest is doing, wasm code or a host call) and release their
//! leases; settle the last verdicts; remove the heartbeat. Every step has a
//! bound, so shutdown takes at most the drain timeout plus the cancel and
//! settle graces.

mod execute;
mod heartbeat;
mod inflight;
mod keeper;
mod kv;
mod leaser;
pub(crate) mod policy;
mod progress;
mod pushed;
mod report;
pub(crate) mod sched;
mod schedules;
mod settle;
mod stats;
mod wake;

pub use heartbeat::Identity;
pub use kv::RedisKv;
pub use pushed::{CHECK_EVERY as PUSHED_CHECK_EVERY, PushedPlugins, PushedStartError};
pub use stats::WorkerReport;

use crate::broker::{Client, MAX_BATCH};
use crate::config::{InvalidSetting, RunConfig};
use crate::plugins::Registry;
use crate::task::RetryPolicy;
use execute::Ticket;
use inflight::Inflight;
use sched::Scheduler;
use stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How long the last verdicts may take to reach Redis at shutdown.
const SETTLE_GRACE: Duration = Duration::from_secs(10);

/// How long cancelled runs may take to stop after a forced shutdown. A run
/// stops within `STOP_GRACE` of its cancellation; the rest is room for an
/// executor thread that is slow to be scheduled on a loaded machine.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Most tasks one maintenance step moves per queue and round.
const MAINTENANCE_LIMIT: usize = 500;

/// What the worker needs from the host's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Tasks run at once, over all types.
    pub concurrency: usize,
    /// Most tasks leased per round trip. A host holds at most
    /// `concurrency + 4 × lease_batch` leases.
    pub lease_batch: usize,
    /// How long a graceful shutdown waits for running tasks.
    pub drain_timeout: Duration,
    /// Host default backoff (a task type's manifest overrides it).
    pub retry: RetryPolicy,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Period of the promoter and reaper.
    pub maintenance_tick: Duration,
    /// This process's identity in the host registry.
    pub identity: Identity,
}

impl WorkerConfig {
    /// Checks the values the worker relies on; the error names the setting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.concurrency == 0 {
            return Err(InvalidSetting {
                key: "concurrency",
                message: "must be at least 1".into(),
            });
        }
        if !(1..=MAX_BATCH).contains(&self.lease_batch) {
            return Err(InvalidSetting {
                key: "lease_batch",
                message: format!("{} is not in 1..={MAX_BATCH}", self.lease_batch),
            });
        }
        Ok(())
    }

    /// The worker part of a host config.
    pub fn from_run_config(config: &RunConfig) -> WorkerConfig {
        WorkerConfig {
            concurrency: config.concurrency,
            lease_batch: config.lease_batch,
            drain_timeout: config.drain_timeout,
            retry: RetryPolicy {
                base: config.backoff_base,
                cap: config.backoff_cap,
                ..RetryPolicy::default()
            },
            heartbeat: config.heartbeat,
            maintenance_tick: config.maintenance_tick,
            identity: Identity::new(),
        }
    }
}

/// Why the worker stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A setting is out of range.
    #[error("invalid worker setting: {0}")]
    Invalid(#[from] InvalidSetting),
    /// One of the worker's loops panicked (a bug); the others were stopped.
    #[error("the worker's {task} loop panicked: {message}")]
    Panicked { task: &'static str, message: String },
    /// The guest runtime's threads could not be started.
    #[error("cannot start the guest runtime's threads: {0}")]
    Thread(String),
}

/// What the worker's loops share.
pub(crate) struct Shared {
    broker: Client,
    registry: Registry,
    sched: Scheduler<Ticket>,
    inflight: Arc<Inflight>,
    stats: Arc<Stats>,
    retry: RetryPolicy,
    identity: Identity,
    /// Most leases held at once: running, buffered and settling. This is
    /// also the most tasks a crash of this host can cause to run twice.
    /// Four batches leave room for one being leased, one buffered and the
    /// settler's batches in flight: measured, a tighter bound stalls the
    /// pipeline (41k instead of 70k no-op tasks/s at two batches).
    max_held: usize,
}

/// Serves the registry's task types from `broker` until `shutdown` is
/// cancelled, then drains (see the module docs) and reports.
pub async fn run(
    config: WorkerConfig,
    broker: Client,
    registry: Registry,
    shutdown: CancellationToken,
) -> Result<WorkerReport, WorkerError> {
    config.validate()?;
    let stats = Arc::new(Stats::default());
    let inflight = Arc::new(Inflight::default());
    let shared = Arc::new(Shared {
        broker: broker.clone(),
        registry,
        sched: Scheduler::new(config.concurrency, config.lease_batch),
        inflight: inflight.clone(),
        stats: stats.clone(),
        retry: config.retry,
        identity: config.identity.clone(),
        max_held: config.concurrency + 4 * config.lease_batch,
    });
    // The settler first: every verdict, up to the last release at shutdown, goes through it.
    let abandon = CancellationToken::new();
    let (verdicts, mut settler) = settle::spawn_settler(
        broker.clone(),
        inflight.clone(),
        stats.clone(),
        abandon.clone(),
    );
    let guests = GuestRuntime::start()?;
    // Each executor holds a sender; `recv` ends when all are gone.
    let (alive, mut executors) = tokio::sync::mpsc::channel::<()>(1);
    for _ in 0..config.concurrency {
        let (shared, verdicts, alive) = (shared.clone(), verdicts.clone(), alive.clone());
        guests.spawn(execute::executor(shared, verdicts, alive));
    }
    // Drop ours: only executors hold senders now, so `recv` ends when the last one drained.
    drop(alive);
    // The leaser after the executors, so no leased task waits for one.
    let leaser = tokio::spawn(leaser::lease_loop(
        shared.clone(),
        verdicts.clone(),
        shutdown.clone(),
    ));
    let background = CancellationToken::new();
    let mut loops = spawn_background(&shared, &config, &background);
    // Cron schedules stop firing as soon as shutdown starts, not after the drain.
    let schedules = schedules::run_schedules(broker.clone(), shutdown.clone());
    loops.push(("schedules", tokio::spawn(schedules)));
    info!(host_id = %config.identity.host_id, concurrency = config.concurrency,
        lease = ?broker.options().lease_duration, "worker started");

    shutdown.cancelled().await;
    // Shutdown 1: the leaser sees `shutdown` and ends, so nothing enters the closed scheduler.
    let mut panicked = joined("leaser", leaser).await.err();
    // 2: close the scheduler; buffered tasks never started, so they go back at once, uncounted.
    let buffered = shared.sched.close();
    info!(running = shared.sched.with(|q| q.running()), released = buffered.len(),
        drain_timeout = ?config.drain_timeout, "shutting down: stopped leasing, releasing tasks not started, draining running tasks");
    leaser::release(&verdicts, buffered);
    // 3: running tasks finish within the drain timeout, or are cancelled and get CANCEL_GRACE.
    if tokio::time::timeout(config.drain_timeout, executors.recv())
        .await
        .is_err()
    {
        let n = inflight.cancel_all();
        warn!(
            cancelled = n,
            "drain timeout passed: cancelling running tasks and releasing their leases"
        );
        if tokio::time::timeout(CANCEL_GRACE, executors.recv())
            .await
            .is_err()
        {
            // Not expected (a cancelled run is dropped within STOP_GRACE):
            // the lease keeper stops below, so these leases do expire.
            error!(
                "some runs did not stop after cancellation; their leases are no longer extended and will expire"
            );
        }
    }
    // Ends whatever is left on the guest threads, without waiting for it.
    drop(guests);
    // 4: the last verdict sender (leaser, executors gone): the settler ends once all is settled.
    drop(verdicts);
    let settled = match tokio::time::timeout(SETTLE_GRACE, &mut settler).await {
        Ok(done) => done,
        Err(_) => {
            abandon.cancel();
            settler.await
        }
    };
    if let Err(e) = settled {
        panicked = panicked.or(Some(panic_error("settler", e)));
    }
    // 5, last: heartbeat, keeper, listener and maintenance kept this host present until now.
    background.cancel();
    for (name, handle) in loops {
        panicked = panicked.or(joined(name, handle).await.err());
    }
    let report = stats.report();
    info!(?report, leases_left = inflight.len(), "worker stopped");
    match panicked {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// The thread pool the executors and their plugin runs live on, one thread
/// per core, apart from the runtime of the control loops (see
/// [`execute`]). Dropping it abandons what still runs there, without
/// blocking.
struct GuestRuntime(Option<tokio::runtime::Runtime>);

impl GuestRuntime {
    fn start() -> Result<Self, WorkerError> {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("wasmq-guest")
            .enable_all()
            .build()
            .map(|runtime| GuestRuntime(Some(runtime)))
            .map_err(|e| WorkerError::Thread(e.to_string()))
    }

    fn spawn(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Some(runtime) = &self.0 {
            runtime.spawn(future);
        }
    }
}

impl Drop for GuestRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The loops that run beside the leaser until the worker has drained.
fn spawn_background(
    shared: &Arc<Shared>,
    config: &WorkerConfig,
    stop: &CancellationToken,
) -> Vec<(&'static str, JoinHandle<()>)> {
    let (broker, inflight, stats) = (&shared.broker, &shared.inflight, &shared.stats);
    let maintenance = {
        let (broker, stop, tick) = (broker.clone(), stop.clone(), config.maintenance_tick);
        async move { broker.run_maintenance(tick, MAINTENANCE_LIMIT, stop).await }
    };
    vec![
        (
            "lease keeper",
            tokio::spawn(keeper::keep_leases(
                broker.clone(),
                inflight.clone(),
                stats.clone(),
                stop.clone(),
            )),
        ),
        (
            "cancel listener",
            tokio::spawn(keeper::listen_for_cancellations(
                broker.clone(),
                inflight.clone(),
                stats.clone(),
                stop.clone(),
            )),
        ),
        (
            "heartbeat",
            tokio::spawn(heartbeat::beat(
                shared.clone(),
                config.heartbeat,
                stop.clone(),
            )),
        ),
        ("maintenance", tokio::spawn(maintenance)),
    ]
}

/// Waits for a loop; a panic becomes an error naming it.
async fn joined(task: &'static str, handle: JoinHandle<()>) -> Result<(), WorkerError> {
    handle.await.map_err(|e| panic_error(task, e))
}

fn panic_error(task: &'static str, error: tokio::task::JoinError) -> WorkerError {
    error!(task, error = %error, "a worker loop panicked");
    WorkerError::Panicked {
        task,
        message: error.to_string(),
    }
}
