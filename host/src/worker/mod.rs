//! The worker: the only module that joins the broker (Redis) and the plugin
//! runtime (wasm). It leases tasks, runs their plugins, and reports how each
//! ended, for as long as the host runs.
//!
//! ```text
//!             lease (batches)             verdicts (channel)
//!   Redis ──▶ leaser ──▶ scheduler ──▶ executors ──▶ settler ──▶ Redis
//!               ▲        buffers,      (one thread    ack_many per queue,
//!      BLPOP ───┘        caps, RR        each)        retry / dead / release
//!
//!   lease keeper: extends held leases every lease/3, polls cancel flags
//!   cancel listener: pub/sub → trips the task's CancelToken
//!   heartbeat: host record with TTL      maintenance: promote due, reap expired
//! ```
//!
//! * [`leaser`] takes work only for the task types the plugin registry
//!   serves, as much as free slots plus a small prefetch allow
//!   ([`sched`]), and blocks on Redis instead of polling when there is none.
//! * [`execute`] runs each task on an executor thread in a fresh instance and
//!   turns the outcome into a verdict with the retry policy of [`policy`]
//!   (its module docs have the table of which failures are retried).
//! * [`settle`] batches verdicts into few Redis calls, in one lane per
//!   queue so that a failing queue retries alone, and retries them through
//!   outages.
//! * [`inflight`] holds every lease, keyed by lease (task id and token),
//!   until its verdict is in Redis; [`keeper`] extends them per queue and
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
//! cancel the rest (their instances stop within an epoch tick) and release
//! their leases; settle the last verdicts; remove the heartbeat.

mod execute;
mod heartbeat;
mod inflight;
mod keeper;
mod leaser;
pub(crate) mod policy;
pub(crate) mod sched;
mod settle;
mod stats;

pub use heartbeat::Identity;
pub use stats::WorkerReport;

use crate::broker::Client;
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

/// How long cancelled runs may take to stop after a forced shutdown.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

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
        if !(1..=1000).contains(&self.lease_batch) {
            return Err(InvalidSetting {
                key: "lease_batch",
                message: format!("{} is not in 1..=1000", self.lease_batch),
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
    /// An executor thread could not be started (the system is out of threads).
    #[error("cannot start an executor thread: {0}; lower --concurrency")]
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
    let abandon = CancellationToken::new();
    let (verdicts, mut settler) = settle::spawn_settler(
        broker.clone(),
        inflight.clone(),
        stats.clone(),
        abandon.clone(),
    );
    // Each executor thread holds a sender; `recv` ends when all are gone.
    let (alive, mut executors) = tokio::sync::mpsc::channel::<()>(1);
    for n in 0..config.concurrency {
        let thread = (shared.clone(), verdicts.clone(), alive.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("wasmq-exec-{n}"))
            .spawn(move || execute::executor(thread.0, thread.1, thread.2));
        if let Err(e) = spawned {
            // Let the threads already started end.
            shared.sched.close();
            return Err(WorkerError::Thread(e.to_string()));
        }
    }
    drop(alive);
    let leaser = tokio::spawn(leaser::lease_loop(
        shared.clone(),
        verdicts.clone(),
        shutdown.clone(),
    ));
    let background = CancellationToken::new();
    let loops = spawn_background(&shared, &config, &background);
    info!(host_id = %config.identity.host_id, concurrency = config.concurrency,
        lease = ?broker.options().lease_duration, "worker started");

    shutdown.cancelled().await;
    let mut panicked = joined("leaser", leaser).await.err();
    let buffered = shared.sched.close();
    info!(running = shared.sched.with(|q| q.running()), released = buffered.len(),
        drain_timeout = ?config.drain_timeout, "shutting down: stopped leasing, releasing tasks not started, draining running tasks");
    leaser::release(&verdicts, buffered);
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
            error!("some runs did not stop after cancellation; their leases will expire");
        }
    }
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
