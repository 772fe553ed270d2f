//! `wasmq bench`: how fast is this queue, and where does the time go?
//!
//! One run measures, against one Redis (a server or a Cluster) and one or
//! more hosts:
//!
//! 1. **enqueue**: N tasks through the batch API into a paused queue:
//!    tasks/s, Redis memory and CPU per queued task;
//! 2. **drain**: hosts started on that backlog (one in this process, or
//!    `--hosts K` `wasmq run` children): tasks/s, Redis and host CPU per
//!    task, and each task's wait from enqueue to completion;
//! 3. **live**: single tasks at a fixed rate to the now idle host: latency
//!    percentiles at microsecond resolution (see `live.rs` for the method).
//!
//! It prints one JSON line (the fields every compared queue reports; see
//! `report.rs`) and then a summary next to the project's targets. The method
//! and the latest figures are in `docs/benchmarks.md`.
//!
//! The bench never touches data it did not write: without `--redis` it
//! starts a private `redis-server`; with it, it works in a random namespace
//! and deletes exactly that namespace's keys at the end, on every master of
//! a Cluster (see `target.rs`). Ctrl-C or SIGTERM stops the hosts and still
//! deletes the keys; a second one exits at once (the children then get
//! SIGTERM from the kernel, see `children.rs`).

mod args;
mod capability;
mod children;
mod launch;
mod limited;
mod live;
mod phases;
mod plugin_cost;
mod probe;
mod report;
mod sample;
mod sealed;
mod target;
mod under_host;

use crate::Client;
use crate::broker::BrokerOptions;
use anyhow::{Context, Result, anyhow, bail};
use launch::{HostMode, HostSpec, HostUnderTest};
use report::{LiveFigures, Report};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use target::Target;
use under_host::{Measured, Phase, progress, with_host};

pub use args::{BenchArgs, BenchPlugin, PluginChoice};

/// Runs `wasmq bench`: exit 0 with the report, 1 when the bench failed.
pub fn run(args: BenchArgs) -> ExitCode {
    init_tracing();
    let runtime = match super::async_runtime(super::Threads::One) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    // A plugin file is measured alone; a built-in plugin gets the full bench.
    let finished = match &args.plugin {
        PluginChoice::File(path) => runtime
            .block_on(plugin_cost::measure(
                path,
                args.manifest.as_deref(),
                &args.payload,
                args.runs,
                args.concurrency.unwrap_or(8),
            ))
            .map(|report| (report.json_line(), report.summary())),
        PluginChoice::Builtin(_) if args.manifest.is_some() => Err(anyhow!(
            "--manifest applies to --plugin PATH (a plugin file); the built-in bench plugins \
             need no grants"
        )),
        PluginChoice::Builtin(plugin) => runtime
            .block_on(bench(&args, *plugin))
            .map(|report| (report.json_line(), report.summary())),
    };
    match finished {
        Ok((json_line, summary)) => {
            println!("{json_line}");
            if !args.json {
                print!("{summary}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Warnings of the in-process host go to stderr; `RUST_LOG` overrides.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Sets up, runs the phases, and cleans up whatever happened.
async fn bench(args: &BenchArgs, plugin: BenchPlugin) -> Result<Report> {
    let task_type = plugin.task_type();
    let source = args.plugins.join(format!("{task_type}.wasm"));
    if !source.is_file() {
        bail!(
            "plugin {task_type} not found at {}: build the plugins with `plugins/build.sh`, \
             or pass --plugins DIR",
            source.display()
        );
    }
    let work = tempfile::Builder::new()
        .prefix("wasmq-bench-")
        .tempdir()
        .context("creating a temp dir")?;
    let plugins_dir = work.path().join("plugins");
    copy_plugin(&args.plugins, &plugins_dir, task_type, task_type)?;
    // Its server (if any) lives until the phases are done.
    let setup = capability::prepare(plugin, &plugins_dir, args.payload_bytes as usize)?;
    // Every further queue gets a copy of the plugin and of its grant.
    let queues = queue_names(task_type, args.queues);
    for queue in &queues[1..] {
        copy_plugin(&plugins_dir, &plugins_dir, task_type, queue)?;
    }
    let mut target = Target::open(args.redis.as_deref()).await?;
    let interrupted = super::run::shutdown_signal().context("watching for Ctrl-C")?;
    // On Ctrl-C the phases are dropped, and with them the hosts (killed,
    // see `launch.rs`), before the cleanup below deletes the keys.
    let outcome = tokio::select! {
        outcome = run_phases(
            args,
            plugin,
            &mut target,
            &queues,
            &plugins_dir,
            work.path(),
            &setup.payload,
        ) => outcome,
        () = interrupted => Err(anyhow!("interrupted by Ctrl-C or SIGTERM: the hosts were stopped")),
    };
    let cleaned = target.cleanup().await;
    match (outcome, cleaned) {
        (Ok(report), Ok(_)) => Ok(report),
        (Ok(_), Err(e)) => Err(e.context("deleting the bench's keys")),
        (Err(e), Ok(_)) => Err(e),
        (Err(e), Err(cleanup)) => Err(anyhow!(
            "{e:#}; deleting the bench's keys failed too ({cleanup:#}); they are all under {}:",
            target.namespace
        )),
    }
}

/// The backlog's queues: the plugin's own, then `<task_type>-2` … `-<count>`.
fn queue_names(task_type: &str, count: usize) -> Vec<String> {
    let extra = (2..=count).map(|i| format!("{task_type}-{i}"));
    std::iter::once(task_type.to_owned()).chain(extra).collect()
}

/// Copies `<task_type>.wasm` (and its manifest, if any) from `from` into
/// `dest` as `<name>.wasm`, the plugin of queue `name`.
fn copy_plugin(from: &Path, dest: &Path, task_type: &str, name: &str) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for ext in ["wasm", "toml"] {
        let src = from.join(format!("{task_type}.{ext}"));
        if src.is_file() {
            std::fs::copy(&src, dest.join(format!("{name}.{ext}")))
                .with_context(|| format!("copying {}", src.display()))?;
        }
    }
    Ok(())
}

/// Enqueues the backlog, starts the host and measures everything.
async fn run_phases(
    args: &BenchArgs,
    plugin: BenchPlugin,
    target: &mut Target,
    queues: &[String],
    plugins_dir: &Path,
    work: &Path,
    payload: &[u8],
) -> Result<Report> {
    let task_type = plugin.task_type();
    let n = args.n as usize;
    let opts = BrokerOptions {
        namespace: target.namespace.clone(),
        ..BrokerOptions::default()
    };
    let client = Client::connect(&target.url, opts)
        .await
        .context("connecting the producer")?;
    let show = !args.json && std::io::stderr().is_terminal();

    let bar = progress(show, n as u64, "enqueue");
    let enqueued = phases::enqueue_backlog(&client, target, queues, payload, n, &bar).await?;
    bar.finish_and_clear();

    let mode = match args.child || args.hosts.is_some() {
        true => HostMode::Child,
        false => HostMode::InProcess,
    };
    let spec = HostSpec {
        url: target.url.clone(),
        namespace: target.namespace.clone(),
        plugins_dir: plugins_dir.to_owned(),
        concurrency: args
            .concurrency
            .map_or_else(crate::config::default_concurrency, |c| c as usize),
        hosts: args.hosts.unwrap_or(1),
        keys_file: None,
    };
    let mut host = HostUnderTest::start(mode, &spec, work)?;
    let ctx = Phase {
        client: &client,
        task_type,
        queues,
        payload,
        show,
    };
    // The host is stopped before returning, whatever happened, so that it
    // writes nothing into the namespace after the cleanup.
    let measured = with_host(args, &ctx, target, &mut host, &enqueued).await;
    let stopped = host.stop().await;
    let Measured {
        host_start,
        drained,
        records,
        live,
        limit_cost,
    } = measured?;
    stopped?;
    let sealed = match args.encrypt {
        true => Some(sealed::run(target, mode, &spec, work, task_type, payload, args.n).await?),
        false => None,
    };

    let per_task = |total: u64, tasks: u64| total as f64 / tasks.max(1) as f64;
    let drain_secs = drained.wall.as_secs_f64().max(1e-9);
    let bytes_per_job = enqueued.memory_delta as f64 / n as f64;
    Ok(Report {
        peer: "wasmq",
        variant: task_type.to_owned(),
        host_mode: mode.label(),
        build: report::build_kind(),
        n: args.n,
        payload_bytes: payload.len(),
        concurrency: spec.concurrency,
        hosts: spec.hosts,
        queues: queues.len(),
        shards: target.shards,
        enqueue_per_s: n as f64 / enqueued.elapsed.as_secs_f64().max(1e-9),
        process_per_s: drained.completed as f64 / (records.span_ms.max(1) as f64 / 1000.0),
        lat_backlog_ms: records.latency,
        live: LiveFigures {
            rate: args.live_rate,
            n: live.n,
            achieved_rate: live.achieved_rate,
            latency: live.latency,
        },
        bytes_per_job,
        bytes_per_job_beyond_payload: bytes_per_job - payload.len() as f64,
        process_redis_cpu_pct: drained.redis_cpu_us as f64 / 1e6 / drain_secs * 100.0,
        process_client_cpu_pct: drained.host_cpu_us as f64 / 1e6 / drain_secs * 100.0,
        redis_cpu_us_per_task: per_task(drained.redis_cpu_us, drained.completed),
        host_cpu_us_per_task: per_task(drained.host_cpu_us, drained.completed),
        host_rss_mib_per_1000_in_flight: drained.rss_growth as f64 / (1 << 20) as f64 * 1000.0
            / (spec.concurrency * spec.hosts).min(n).max(1) as f64,
        enqueue_redis_cpu_us_per_task: per_task(enqueued.redis_cpu_us, args.n),
        completed: drained.completed,
        drain_s: drained.wall.as_secs_f64(),
        host_start_s: host_start.as_secs_f64(),
        limit_cost,
        sealed,
    })
}
