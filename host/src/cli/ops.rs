//! The operator commands: `enqueue`, `status`, `result`, `cancel`, `queues`
//! (and `queues rm`), `stats`, `pause`, `resume`, `dead`, `hosts`,
//! `plugins` and `tasks`.
//!
//! Each lives in a module of its own, entered by its `run(args)`, as every
//! `wasmq` command is (`queues rm` and `queues limit` are remove.rs and
//! limits.rs; `pause` and `resume` share pause.rs). They are thin: each
//! parses its flags, makes one or two calls on [`crate::Client`] (or, for
//! `plugins check`, on the runtime exactly as a host would load a plugin)
//! and prints a table, or one JSON document with `--json`. All the queue logic lives in the broker, so what an operator sees
//! here is what the HTTP API and the dashboard see too.
//!
//! # Exit codes
//!
//! Scripts branch on these, so they are part of the interface:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | not found, or the operation was refused (for example: `plugins check` on a broken file, `cancel` of a finished task) |
//! | 2 | usage error or bad input (an unknown flag, `--payload` that is not JSON, an invalid queue name or task id) |
//! | 3 | Redis is unreachable (refused, timed out, dropped) |
//!
//! Errors are printed to stderr as one line that says what failed, where, and
//! what to do; stdout only ever carries the command's result.

mod cancel;
mod dead;
mod enqueue;
mod exit;
mod flow_tree;
mod hosts;
mod input;
mod keys;
mod limits;
mod pause;
mod plugins;
mod queues;
mod remove;
mod result;
mod runs;
mod schedule;
mod stats;
mod status;
mod table;
mod tail;
mod tasks;

pub use exit::{BadInput, EXIT_CODES_HELP, Refused};

use clap::{Args, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

use crate::Client;

/// How long a command waits for Redis before it reports it unreachable
/// (exit code 3). Operator commands are interactive: hanging is worse than
/// failing with a clear message.
const REDIS_DEADLINE: Duration = Duration::from_secs(5);

/// The operator commands, flattened into the top-level `wasmq` command.
#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Enqueue a task and print its id.
    #[command(after_help = EXIT_CODES_HELP)]
    Enqueue(enqueue::EnqueueArgs),
    /// Show where a task is: state, attempts, last error, timestamps.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(status::StatusArgs),
    /// Print the logs a task's attempts left (the plugin's log lines, stdout, stderr).
    #[command(after_help = EXIT_CODES_HELP)]
    Logs(runs::LogsArgs),
    /// Print the output of a completed task.
    #[command(after_help = EXIT_CODES_HELP)]
    Result(result::ResultArgs),
    /// Cancel a task: a waiting one is cancelled, a running one interrupted.
    #[command(after_help = EXIT_CODES_HELP)]
    Cancel(cancel::CancelArgs),
    /// List the queues with their sizes per state, whether any live host
    /// serves them and whether they are paused; `queues rm` removes an empty one.
    #[command(after_help = EXIT_CODES_HELP)]
    Queues(queues::QueuesArgs),
    /// Show the counters of every queue and the throughput of the last minutes.
    #[command(after_help = EXIT_CODES_HELP)]
    Stats(stats::StatsArgs),
    /// Stop leasing tasks from a queue (running tasks finish).
    #[command(after_help = EXIT_CODES_HELP)]
    Pause(pause::PauseArgs),
    /// Lease tasks from a paused queue again.
    #[command(after_help = EXIT_CODES_HELP)]
    Resume(pause::PauseArgs),
    /// List, re-drive or purge dead tasks.
    #[command(after_help = EXIT_CODES_HELP)]
    Dead(dead::DeadArgs),
    /// List the live hosts, from their heartbeats.
    #[command(after_help = EXIT_CODES_HELP)]
    Hosts(hosts::HostsArgs),
    /// List the plugins live hosts serve, or check a plugin file locally.
    #[command(after_help = EXIT_CODES_HELP)]
    Plugins(plugins::PluginsArgs),
    /// Add, list, remove, pause or resume cron schedules.
    #[command(after_help = EXIT_CODES_HELP)]
    Schedule(schedule::ScheduleArgs),
    /// Stream completions and failures as they happen, one line per task with its cost.
    #[command(after_help = EXIT_CODES_HELP)]
    Tail(tail::TailArgs),
    /// Browse a queue's tasks by state; retry, delete, cancel or promote them.
    #[command(after_help = EXIT_CODES_HELP)]
    Tasks(tasks::TasksArgs),
    /// Re-encrypt stored task data with the first key of the ring.
    #[command(after_help = EXIT_CODES_HELP)]
    Keys(keys::KeysArgs),
}

/// Where Redis is and how to print: flattened into every command.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS).
    #[arg(
        long,
        value_name = "URL",
        env = "WASMQ_REDIS",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis: String,
    /// Key namespace shared by the hosts and producers of one deployment.
    #[arg(
        long,
        value_name = "NS",
        env = "WASMQ_NAMESPACE",
        default_value = "wasmq"
    )]
    pub namespace: String,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Encryption at rest (`--keys-file`, `WASMQ_KEYS`).
    #[command(flatten)]
    pub keys: crate::cli::keys::KeyArgs,
}

impl Common {
    /// Connects to Redis, giving up after `REDIS_DEADLINE` (5 s).
    pub async fn connect(&self) -> anyhow::Result<Client> {
        self.connect_durable(0, std::time::Duration::from_secs(1))
            .await
    }

    /// [`Common::connect`] for a client whose enqueues return only once
    /// `replicas` replicas have them (Redis `WAIT`, up to `timeout`).
    pub async fn connect_durable(
        &self,
        replicas: u32,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Client> {
        let encryption = self
            .keys
            .encryption()
            .map_err(|e| BadInput(e.to_string()))?;
        let options = crate::broker::BrokerOptions {
            namespace: self.namespace.clone(),
            response_timeout: REDIS_DEADLINE,
            encryption,
            durable_replicas: replicas,
            durable_timeout: timeout,
            ..crate::broker::BrokerOptions::default()
        };
        use crate::broker::{MAX_DURABLE_REPLICAS, MAX_DURABLE_TIMEOUT};
        if replicas > MAX_DURABLE_REPLICAS {
            return Err(BadInput(format!(
                "--durable-enqueue: at most {MAX_DURABLE_REPLICAS} replicas, got {replicas}"
            ))
            .into());
        }
        if timeout.is_zero() || timeout > MAX_DURABLE_TIMEOUT {
            return Err(BadInput(format!(
                "--durable-timeout: must be between 1ms and {}s, got {timeout:?}",
                MAX_DURABLE_TIMEOUT.as_secs()
            ))
            .into());
        }
        exit::connect(&self.redis, options, REDIS_DEADLINE).await
    }
}

/// Runs an operator command and maps its result to an exit code, printing
/// any error as one line on stderr.
pub fn run(command: OpsCommand) -> ExitCode {
    init_tracing();
    let runtime = match super::async_runtime(super::Threads::One) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(async move {
        match command {
            OpsCommand::Enqueue(args) => enqueue::run(args).await,
            OpsCommand::Status(args) => status::run(args).await,
            OpsCommand::Result(args) => result::run(args).await,
            OpsCommand::Logs(args) => runs::logs(args).await,
            OpsCommand::Cancel(args) => cancel::run(args).await,
            OpsCommand::Queues(args) => queues::run(args).await,
            OpsCommand::Stats(args) => stats::run(args).await,
            OpsCommand::Pause(args) => pause::run(args, true).await,
            OpsCommand::Resume(args) => pause::run(args, false).await,
            OpsCommand::Dead(args) => dead::run(args).await,
            OpsCommand::Hosts(args) => hosts::run(args).await,
            OpsCommand::Plugins(args) => plugins::run(args).await,
            OpsCommand::Schedule(args) => schedule::run(args).await,
            OpsCommand::Keys(args) => keys::run(args).await,
            OpsCommand::Tasks(args) => tasks::run(args).await,
            OpsCommand::Tail(args) => tail::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(&error),
    }
}

/// Shows warnings of the layers below (an unusable compile cache, say) on
/// stderr; `RUST_LOG` overrides. Info lines would only clutter a command's
/// output, and the plugin loader's warning about a file that fails to load
/// would repeat the error `plugins check` reports itself.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,wasmq::plugins::loader=error,wasmq::plugins::pushed=error",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
