//! `wasmq run`: the host daemon.
//!
//! Settings come from flags, then `WASMQ_*` environment variables, then the
//! config file (`--config`), then defaults (see [`crate::config::RunConfig`]).
//! The host is [`super::host::Host`]; this file adds what only a process has:
//! logging and signals.
//!
//! Signals: the first SIGTERM or SIGINT starts a graceful drain (stop
//! leasing, release what has not started, let running tasks finish within
//! `--drain-timeout`, then cancel and release the rest) and the process exits
//! 0 when it is done. A second signal exits at once with 130: leases still
//! held then expire and the reaper of another host re-delivers their tasks.
//!
//! Exit codes: 0 stopped cleanly, 1 failed while running, 2 bad settings,
//! 3 Redis unreachable at start.

use super::host;
use super::logging;
use crate::broker::BrokerError;
use crate::config::units::parse_duration;
use crate::config::{
    AllowedHost, DaemonConfigError, LogFormat, RunConfig, RunOverrides, Secret, parse_socket_addr,
};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing::{error, info, warn};

/// Flags of `wasmq run`. Each may also be set by the environment variable
/// shown in `--help`, or by the same key (with `_`) in the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Redis URL [default: redis://127.0.0.1:6379].
    #[arg(long, env = "WASMQ_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// Directory of `<type>.wasm` plugins and `<type>.toml` manifests [default: plugins].
    #[arg(long, env = "WASMQ_PLUGINS", value_name = "DIR")]
    pub plugins: Option<PathBuf>,
    /// Tasks run at once [default: the number of cores].
    #[arg(long, short = 'c', env = "WASMQ_CONCURRENCY", value_name = "N")]
    pub concurrency: Option<usize>,
    /// Serve the HTTP API, dashboard and /metrics on this address (e.g. 127.0.0.1:7070).
    #[arg(long, env = "WASMQ_HTTP", value_name = "ADDR", value_parser = parse_socket_addr)]
    pub http: Option<SocketAddr>,
    /// Bearer token for changes through the HTTP API (required off loopback).
    #[arg(
        long,
        env = "WASMQ_HTTP_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub http_token: Option<String>,
    /// Another name the HTTP API answers to (a reverse proxy's name, the
    /// machine's name), with or without a port; repeat for several. Its own
    /// address, and localhost when bound to loopback, are always allowed.
    #[arg(
        long,
        env = "WASMQ_HTTP_ALLOWED_HOST",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub http_allowed_host: Vec<AllowedHost>,
    /// Require the token for reads through the HTTP API too, not only for
    /// changes (needs --http-token) [default: false].
    #[arg(
        long,
        env = "WASMQ_HTTP_PROTECT_READS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub http_protect_reads: Option<bool>,
    /// Enqueue rate limit of the HTTP API per bearer token, or per client
    /// IP without one (in this process), such as 10/s; over it: 429 with
    /// Retry-After [default: none].
    #[arg(long, env = "WASMQ_HTTP_ENQUEUE_RATE", value_name = "COUNT/UNIT", value_parser = parse_rate)]
    pub http_enqueue_rate: Option<crate::ratelimit::Rate>,
    /// Enqueue requests a client may make at once under the rate [default: 1].
    #[arg(long, env = "WASMQ_HTTP_ENQUEUE_BURST", value_name = "N")]
    pub http_enqueue_burst: Option<u64>,
    /// TOML config file; flags and environment variables override it.
    #[arg(long, env = "WASMQ_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Prefix of every Redis key [default: wasmq].
    #[arg(long, env = "WASMQ_NAMESPACE", value_name = "NS")]
    pub namespace: Option<String>,
    /// How long a graceful shutdown waits for running tasks [default: 30s].
    #[arg(long, env = "WASMQ_DRAIN_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// Lease duration; running tasks are extended every third of it [default: 30s].
    #[arg(long, env = "WASMQ_LEASE", value_name = "DURATION", value_parser = parse_duration)]
    pub lease: Option<Duration>,
    /// Most tasks leased per Redis round trip [default: 64].
    #[arg(long, env = "WASMQ_LEASE_BATCH", value_name = "N")]
    pub lease_batch: Option<usize>,
    /// How long results of completed tasks are kept; 0s keeps none [default: 1h].
    #[arg(long, env = "WASMQ_RESULT_TTL", value_name = "DURATION", value_parser = parse_duration)]
    pub result_ttl: Option<Duration>,
    /// Enqueues through this host (HTTP API, child tasks) return only once
    /// N replicas have them (Redis WAIT); `--durable-enqueue` alone means 1
    /// [default: 0, return once the master has them].
    #[arg(
        long,
        env = "WASMQ_DURABLE_ENQUEUE",
        value_name = "REPLICAS",
        num_args = 0..=1,
        default_missing_value = "1"
    )]
    pub durable_enqueue: Option<u32>,
    /// How long a durable enqueue waits for its replicas [default: 2s].
    #[arg(long, env = "WASMQ_DURABLE_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub durable_timeout: Option<Duration>,
    /// First retry delay, doubled per attempt, with jitter [default: 1s].
    #[arg(long, env = "WASMQ_BACKOFF_BASE", value_name = "DURATION", value_parser = parse_duration)]
    pub backoff_base: Option<Duration>,
    /// Longest retry delay [default: 5m].
    #[arg(long, env = "WASMQ_BACKOFF_CAP", value_name = "DURATION", value_parser = parse_duration)]
    pub backoff_cap: Option<Duration>,
    /// Heartbeat period [default: 5s].
    #[arg(long, env = "WASMQ_HEARTBEAT", value_name = "DURATION", value_parser = parse_duration)]
    pub heartbeat: Option<Duration>,
    /// Period of promoting due tasks and reaping expired leases [default: 500ms].
    #[arg(long, env = "WASMQ_MAINTENANCE_TICK", value_name = "DURATION", value_parser = parse_duration)]
    pub maintenance_tick: Option<Duration>,
    /// Directory of compiled plugins [default: ~/.cache/wasmq].
    #[arg(long, env = "WASMQ_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Log format: human or json [default: human].
    #[arg(long, env = "WASMQ_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter such as `info` or `wasmq=debug,info` [default: $RUST_LOG, else info].
    #[arg(long, env = "WASMQ_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Encryption at rest (`--keys-file`, `WASMQ_KEYS`).
    #[command(flatten)]
    pub keys: super::keys::KeyArgs,
}

/// Parses a rate flag (`10/s`), with the rate's own error.
fn parse_rate(text: &str) -> Result<crate::ratelimit::Rate, String> {
    crate::ratelimit::Rate::parse(text).map_err(|e| e.to_string())
}

impl RunArgs {
    /// The settings given on the command line or in the environment.
    pub fn overrides(&self) -> RunOverrides {
        RunOverrides {
            redis_url: self.redis.clone(),
            plugins_dir: self.plugins.clone(),
            concurrency: self.concurrency,
            http: self.http,
            http_token: self.http_token.clone().map(Secret),
            http_allowed_hosts: (!self.http_allowed_host.is_empty())
                .then(|| self.http_allowed_host.clone()),
            http_protect_reads: self.http_protect_reads,
            http_enqueue_rate: self.http_enqueue_rate,
            http_enqueue_burst: self.http_enqueue_burst,
            namespace: self.namespace.clone(),
            drain_timeout: self.drain_timeout,
            lease: self.lease,
            lease_batch: self.lease_batch,
            result_ttl: self.result_ttl,
            durable_enqueue: self.durable_enqueue,
            durable_timeout: self.durable_timeout,
            backoff_base: self.backoff_base,
            backoff_cap: self.backoff_cap,
            heartbeat: self.heartbeat,
            maintenance_tick: self.maintenance_tick,
            cache_dir: self.cache_dir.clone(),
            log_format: self.log_format,
            log_level: self.log_level.clone(),
        }
    }

    /// Flags and environment over the config file over the defaults.
    pub fn resolve(&self) -> Result<RunConfig, DaemonConfigError> {
        let file = match &self.config {
            Some(path) => RunOverrides::from_file(path)?,
            None => RunOverrides::default(),
        };
        let origin = match &self.config {
            Some(path) => format!("the command line, WASMQ_* variables or {}", path.display()),
            None => "the command line or WASMQ_* variables".to_owned(),
        };
        self.overrides().or(file).resolve(&origin)
    }
}

/// Runs `wasmq run` and returns the process exit code.
pub fn run(args: RunArgs) -> ExitCode {
    let config = match args
        .resolve()
        .map_err(|e| e.to_string())
        .and_then(|mut config| {
            config.encryption = args.keys.encryption().map_err(|e| e.to_string())?;
            Ok(config)
        }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Logging after the settings, which choose its format and level.
    if let Err(e) = logging::init(config.log_format, config.log_level.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match super::async_runtime(super::Threads::PerCore) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        // Signals are caught before the host starts: a Ctrl-C during start-up is a graceful stop.
        let shutdown = shutdown_signal()?;
        host::run(config, shutdown).await
    });
    match result {
        Ok(report) => {
            info!(host_id = %report.host_id, completed = report.worker.completed,
                "stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// 2 for bad settings, 3 for Redis unreachable, else 1.
fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<DaemonConfigError>() || cause.is::<crate::config::InvalidSetting>() {
            return 2;
        }
        if let Some(broker) = cause.downcast_ref::<BrokerError>() {
            return if broker.is_connection() { 3 } else { 2 };
        }
    }
    1
}

/// Resolves at the first SIGTERM or SIGINT; a second one exits the process.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(
            signal = name,
            "shutting down gracefully; send the signal again to exit at once"
        );
        let _ = first_tx.send(());
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        warn!(
            signal = name,
            "exiting at once; leases still held will expire and be re-delivered"
        );
        std::process::exit(130);
    });
    Ok(async move {
        let _ = first_rx.await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from([&["wasmq"], args].concat()).map(|cli| cli.run)
    }

    #[test]
    fn allowed_hosts_repeat_and_protected_reads_is_a_switch() {
        let args = parse(&[
            "--http-allowed-host",
            "queue.example.com",
            "--http-allowed-host",
            "10.0.0.5:7070,Box.Local",
            "--http-protect-reads",
            "--http-token",
            "0123456789abcdef-secret",
        ])
        .unwrap();
        let config = args.overrides().resolve("test").unwrap();
        let names: Vec<String> = config
            .http_allowed_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["queue.example.com", "10.0.0.5:7070", "box.local"]);
        assert!(config.http_protect_reads);
        let off = parse(&["--http-protect-reads=false"]).unwrap();
        assert_eq!(off.overrides().http_protect_reads, Some(false));
        assert_eq!(parse(&[]).unwrap().overrides().http_allowed_hosts, None);
    }

    #[test]
    fn a_bad_allowed_host_names_the_flag() {
        let message = parse(&["--http-allowed-host", "http://queue.example.com"])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("--http-allowed-host") && message.contains("is a URL"),
            "{message}"
        );
    }
}
