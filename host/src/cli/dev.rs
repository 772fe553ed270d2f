//! `wasmq dev`: everything on one machine in one command, for trying wasmq.
//!
//! Starts a private `redis-server` (see [`super::local_redis`]; the
//! developer's own Redis is never touched), a host serving the plugins
//! directory with the HTTP API and dashboard on a free loopback port, and
//! prints what to do next. `--demo` also enqueues the example workload of
//! the original design (emails, some with bad addresses that end up in the
//! dead-letter set, and image jobs; every tenth high priority, some delayed)
//! and prints progress; `--exit-when-done` stops once it has all settled,
//! which is how the test suite runs the demo. Ctrl-C drains the host, stops
//! Redis and removes its temp dir.

use super::host::Host;
use super::local_redis::LocalRedis;
use super::logging;
use super::run::shutdown_signal;
use crate::Client;
use crate::config::{LogFormat, RunConfig};
use crate::task::{Priority, TaskSpec};
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Flags of `wasmq dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Directory of <type>.wasm plugins.
    #[arg(
        long,
        env = "WASMQ_PLUGINS",
        value_name = "DIR",
        default_value = "plugins/dist"
    )]
    pub plugins: PathBuf,
    /// Enqueue the example workload (emails and image jobs) and show progress.
    #[arg(long)]
    pub demo: bool,
    /// With --demo: exit 0 once every demo task has completed or been dead-lettered as intended.
    #[arg(long, requires = "demo")]
    pub exit_when_done: bool,
    /// Tasks run at once [default: the number of cores].
    #[arg(long, short = 'c', value_name = "N")]
    pub concurrency: Option<usize>,
    /// Log filter; the default shows warnings and what the worker does with
    /// each task (retries, dead-letters), so progress stays readable.
    #[arg(long, value_name = "FILTER", default_value = "warn,wasmq::worker=info")]
    pub log_level: String,
}

/// Emails in the demo; every [`BAD_EVERY`]th has an invalid address.
const DEMO_EMAILS: usize = 120;
/// Image jobs in the demo.
const DEMO_IMAGES: usize = 80;
const BAD_EVERY: usize = 15;
/// Every eighth task waits this long before it may run.
const DEMO_DELAY: Duration = Duration::from_secs(3);

/// Runs `wasmq dev` and returns the process exit code.
pub fn command(args: DevArgs) -> ExitCode {
    if let Err(e) = logging::init(LogFormat::Human, Some(&args.log_level)) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(dev(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dev(args: DevArgs) -> anyhow::Result<()> {
    if args.demo {
        for plugin in ["email", "image"] {
            if !args.plugins.join(format!("{plugin}.wasm")).is_file() {
                bail!(
                    "the demo needs {plugin}.wasm in {}; build the example plugins with `bash plugins/build.sh`",
                    args.plugins.display()
                );
            }
        }
    }
    // Catch Ctrl-C from now on, so an interrupted start still stops Redis.
    let signal = shutdown_signal()?;
    let redis = tokio::task::spawn_blocking(LocalRedis::start).await??;
    let mut config = RunConfig::new(redis.url(), &args.plugins);
    config.http = Some(([127, 0, 0, 1], 0).into());
    if let Some(n) = args.concurrency {
        config.concurrency = n;
    }
    config.drain_timeout = Duration::from_secs(10);
    let host = Host::start(config).await?;
    print_instructions(&redis, &host, &args.plugins);
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            signal.await;
            stop.cancel();
        }
    });
    let demo = if args.demo {
        let client = host.client().clone();
        let (stop, exit) = (stop.clone(), args.exit_when_done);
        Some(tokio::spawn(async move {
            let result = demo(&client, &stop).await;
            if exit || result.is_err() {
                stop.cancel();
            }
            result
        }))
    } else {
        None
    };
    let report = host.run(stop.clone().cancelled_owned()).await?;
    println!(
        "stopped: {} completed, {} dead, {} retried on this host",
        report.worker.completed, report.worker.dead, report.worker.retried
    );
    if let Some(demo) = demo {
        demo.await.context("the demo task failed")??;
    }
    drop(redis);
    Ok(())
}

fn print_instructions(redis: &LocalRedis, host: &Host, plugins: &Path) {
    let types = host.registry().types();
    println!("wasmq dev is running");
    println!(
        "  redis:     {} (private, pid {}, in {})",
        redis.url(),
        redis.pid(),
        redis.dir().display()
    );
    println!("  plugins:   {} ({})", plugins.display(), types.join(", "));
    if let Some(addr) = host.http_addr() {
        println!("  dashboard: http://{addr}/");
    }
    println!();
    println!("Enqueue a task from another terminal:");
    println!(
        "  wasmq enqueue --redis {} echo --payload '{{\"hello\":\"world\"}}'",
        redis.url()
    );
    println!("Press Ctrl-C to stop (Redis and its data are removed).");
    println!();
}

/// One demo task and whether it is meant to succeed.
fn workload() -> Vec<(TaskSpec, bool)> {
    let mut tasks = Vec::with_capacity(DEMO_EMAILS + DEMO_IMAGES);
    for i in 0..DEMO_EMAILS {
        let good = i % BAD_EVERY != BAD_EVERY - 1;
        let to = if good {
            format!("user{i}@example.com")
        } else {
            format!("user{i} at example dot com")
        };
        let payload = serde_json::json!({ "to": to, "subject": format!("Welcome #{i}") });
        tasks.push((TaskSpec::new("email", payload.to_string()), good));
    }
    for i in 0..DEMO_IMAGES {
        let side = 64 + (i as u32 % 8) * 64;
        let payload = serde_json::json!({ "width": side, "height": side * 3 / 4, "scale": 0.5 });
        tasks.push((TaskSpec::new("image", payload.to_string()), true));
    }
    for (i, (spec, _)) in tasks.iter_mut().enumerate() {
        if i % 10 == 0 {
            spec.priority = Priority::High;
        }
        if i % 8 == 3 {
            *spec = spec.clone().delay(DEMO_DELAY);
        }
    }
    tasks
}

/// Enqueues the workload and prints progress until it has settled (or `stop`).
async fn demo(client: &Client, stop: &CancellationToken) -> anyhow::Result<()> {
    let (specs, good): (Vec<TaskSpec>, Vec<bool>) = workload().into_iter().unzip();
    let expect_ok = good.iter().filter(|g| **g).count() as u64;
    let expect_dead = good.len() as u64 - expect_ok;
    let started = Instant::now();
    client
        .enqueue_many(specs)
        .await
        .context("cannot enqueue the demo tasks")?;
    println!(
        "demo: enqueued {} tasks ({expect_dead} emails with bad addresses will be dead-lettered, some tasks are delayed {}s)",
        good.len(),
        DEMO_DELAY.as_secs()
    );
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let (mut completed, mut dead, mut waiting) = (0, 0, 0);
        for queue in ["email", "image"] {
            let stats = client
                .queue_stats(queue)
                .await
                .context("cannot read the queue stats")?;
            completed += stats.counters.completed;
            dead += stats.counters.dead;
            waiting += stats.pending + stats.scheduled + stats.retry_wait + stats.active;
        }
        println!(
            "demo: {completed}/{expect_ok} completed, {dead}/{expect_dead} dead, {waiting} waiting or running ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        if completed >= expect_ok && dead >= expect_dead && waiting == 0 {
            println!("demo: done in {:.1}s", started.elapsed().as_secs_f64());
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_mixes_priorities_delays_and_bad_addresses() {
        let tasks = workload();
        assert_eq!(tasks.len(), DEMO_EMAILS + DEMO_IMAGES);
        let bad = tasks.iter().filter(|(_, good)| !good).count();
        assert_eq!(bad, DEMO_EMAILS / BAD_EVERY);
        assert!(tasks.iter().any(|(s, _)| s.priority == Priority::High));
        assert!(
            tasks
                .iter()
                .any(|(s, _)| s.schedule != crate::task::Schedule::Now)
        );
        for (spec, good) in &tasks {
            let payload: serde_json::Value = serde_json::from_slice(&spec.payload).unwrap();
            if spec.queue == "image" {
                assert_eq!(payload["scale"], 0.5);
            } else {
                assert_eq!(payload["to"].as_str().unwrap().contains('@'), *good);
            }
        }
    }
}
