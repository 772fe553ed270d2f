//! `wasmq dev`: everything on one machine in one command, for trying wasmq.
//!
//! Starts a private `redis-server` (see [`super::local_redis`]; the
//! developer's own Redis is never touched), a host serving the plugins
//! directory with the HTTP API and dashboard on a free loopback port, and
//! prints what to do next. `--demo` also starts a mail API and an image
//! server on loopback, grants them to `email` and `image`, enqueues the
//! example workload of the original design (see [`super::demo`]) and prints
//! progress; `--exit-when-done` stops once it has all settled, which is how
//! the test suite runs the demo. Ctrl-C drains the host, stops
//! Redis and removes its temp dir.

use super::demo::{self, DemoServices};
use super::host::Host;
use super::local_redis::LocalRedis;
use super::logging;
use super::run::shutdown_signal;
use crate::config::{LogFormat, RunConfig};
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Flags of `wasmq dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Directory of `<type>.wasm` plugins.
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
    /// Serve the API and dashboard on ADDR, so its URL stays the same across
    /// runs [default: a free loopback port]. A non-loopback address needs a
    /// token, as with `wasmq run`.
    #[arg(long, value_name = "ADDR", value_parser = crate::config::parse_socket_addr)]
    pub http: Option<std::net::SocketAddr>,
    /// Start the private Redis on this port [default: a free one]; a taken
    /// port is an error, the developer's own Redis is never used.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub redis_port: Option<u16>,
}

/// Runs `wasmq dev` and returns the process exit code.
pub fn run(args: DevArgs) -> ExitCode {
    if let Err(e) = logging::init(LogFormat::Human, Some(&args.log_level)) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match super::async_runtime(super::Threads::PerCore) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(dev(args));
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
    let port = args.redis_port;
    let redis = tokio::task::spawn_blocking(move || LocalRedis::start_on(port))
        .await?
        .with_context(|| match port {
            Some(p) => format!("cannot start redis-server on --redis-port {p} (is it taken?)"),
            None => "cannot start redis-server".to_owned(),
        })?;
    // The servers before the host, whose first scan loads the plugins with
    // the grants that name them.
    let services = if args.demo {
        let services = tokio::task::spawn_blocking(DemoServices::start).await??;
        Some(Arc::new(services))
    } else {
        None
    };
    let mut config = RunConfig::new(redis.url(), &args.plugins);
    if let Some(services) = &services {
        config.extra_grants = services.grants()?;
    }
    config.http = Some(args.http.unwrap_or_else(|| ([127, 0, 0, 1], 0).into()));
    if let Some(n) = args.concurrency {
        config.concurrency = n;
    }
    config.drain_timeout = Duration::from_secs(10);
    let host = Host::start(config).await?;
    print_instructions(&redis, &host, &args.plugins, services.as_deref());
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            signal.await;
            stop.cancel();
        }
    });
    let demo = if let Some(services) = services.clone() {
        let client = host.client().clone();
        let (stop, exit) = (stop.clone(), args.exit_when_done);
        Some(tokio::spawn(async move {
            let result = demo::run(&client, &services, &stop).await;
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

fn print_instructions(
    redis: &LocalRedis,
    host: &Host,
    plugins: &Path,
    services: Option<&DemoServices>,
) {
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
    if let Some(services) = services {
        println!(
            "  mail API:  {} (granted to email)",
            services.mail.messages_url()
        );
        println!(
            "  images:    {} (granted to image)",
            services.images.origin()
        );
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
