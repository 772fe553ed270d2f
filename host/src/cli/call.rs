//! `wasmq call`: run one task through a plugin locally, without Redis.
//!
//! This is the plugin author's inner loop: build, `wasmq call`, read the
//! outcome, its cost and the log, repeat. It goes through exactly the same
//! runtime as the daemon (same sandbox, same limits, same manifest), so what
//! works here works in the queue. The plugin file is read as a host reads
//! it (a regular file, never a FIFO or device, at most 256 MiB, hashed and
//! compiled from one read); unlike in a plugins directory, a symlink is
//! followed wherever it points, since the user typed this path.
//!
//! Exit codes: 0 the task succeeded; 1 the task ran and failed (any other
//! outcome); 2 the command could not run it (bad arguments, bad payload,
//! the plugin or its manifest failed to load).

use super::call_grants::GrantFlags;
use crate::config::Limits;
use crate::config::units::{format_size, parse_duration, parse_size};
use crate::runtime::{
    CancelToken, Invocation, Outcome, OutcomeKind, Plugin, Runtime, RuntimeOptions,
};
use crate::runtime::{DEFAULT_MAX_PLUGIN_SIZE, PluginFile};
use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `wasmq call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The plugin (.wasm); a `<type>.toml` manifest next to it is honoured.
    pub plugin: PathBuf,
    /// `-` reads the payload (raw bytes) from standard input.
    #[arg(value_name = "-", conflicts_with_all = ["payload", "payload_file"])]
    pub stdin: Option<String>,
    /// The payload as JSON text (checked to be valid JSON).
    #[arg(long, value_name = "JSON", conflicts_with = "payload_file")]
    pub payload: Option<String>,
    /// Read the payload (raw bytes) from a file; `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// Fuel budget (about one unit per instruction).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Wall-clock timeout, e.g. `2s`, `500ms`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Memory cap, e.g. `64MiB`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Output cap, e.g. `1MiB`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_output: Option<u64>,
    /// Print one JSON object instead of the human-readable report.
    #[arg(long)]
    pub json: bool,
    /// Where compiled plugins are cached (default `$XDG_CACHE_HOME/wasmq`).
    #[arg(long, value_name = "DIR", env = "WASMQ_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile the plugin without reading or writing the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Grant outbound HTTP to this `scheme://host[:port]` (repeatable), on
    /// top of the manifest's `[capabilities] http`.
    #[arg(long = "allow-http", value_name = "URL")]
    pub allow_http: Vec<String>,
    /// Grant the key-value bucket BUCKET (repeatable), on top of the
    /// manifest's `[capabilities] kv`.
    #[arg(long = "kv", value_name = "BUCKET")]
    pub kv: Vec<String>,
    /// Grant enqueueing child tasks of type TYPE (repeatable), on top of the
    /// manifest's `[capabilities] enqueue`. `wasmq call` enqueues nothing:
    /// it lists the children a host would commit with the run's success.
    #[arg(long = "enqueue", value_name = "TYPE")]
    pub enqueue: Vec<String>,
    /// A `[config]` value, KEY=VALUE (repeatable; overrides the manifest).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// A `[secrets]` entry, KEY=env:NAME or KEY=file:/path (repeatable).
    #[arg(long = "secret", value_name = "KEY=SOURCE")]
    pub secret: Vec<String>,
    /// Keep key-value buckets in this Redis (as a host would) instead of
    /// in memory.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
}

/// Runs `wasmq call`; see the module docs for the exit codes.
pub fn run(args: CallArgs) -> ExitCode {
    init_tracing();
    match call(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs warnings (e.g. an unusable cache) to stderr; `RUST_LOG` overrides.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn{}", super::logging::QUIET_HTTP))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Loads, runs and reports; `Ok(success)` once the task ran.
fn call(args: CallArgs) -> Result<bool> {
    let payload = read_payload(&args)?;
    // The limit flags are checked before the compile, so a typo costs no
    // load (and is reported even for a plugin that would not load).
    overridden(Limits::default(), &args)?;
    let task_type = args
        .plugin
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("{} has no usable file name", args.plugin.display()))?
        .to_owned();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: args.cache_dir.clone(),
        disk_cache: !args.no_cache,
        max_instances: 1,
        max_memory: Limits::MAX_MEMORY,
        ..RuntimeOptions::default()
    })
    .context("cannot start the plugin runtime")?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    attach_kv(&tokio, &runtime, args.redis.as_deref())?;
    let file = PluginFile::read(&args.plugin, DEFAULT_MAX_PLUGIN_SIZE, None)
        .with_context(|| format!("cannot load plugin {}", args.plugin.display()))?;
    let flags = GrantFlags {
        http: args.allow_http.clone(),
        config: args.config.clone(),
        secrets: args.secret.clone(),
        kv: args.kv.clone(),
        enqueue: args.enqueue.clone(),
    };
    let manifest = flags.merged(file.manifest())?;
    let file = file.with_manifest(manifest);
    let plugin = runtime
        .load_file(&task_type, &file, Limits::default())
        .with_context(|| format!("cannot load plugin {}", args.plugin.display()))?;
    let limits = overridden(plugin.limits(), &args)?;
    let mut invocation = Invocation::new(format!("{task_type}:call"), task_type, payload);
    invocation.limits = Some(limits);
    let outcome = tokio.block_on(plugin.run(invocation, &CancelToken::new()));
    if args.json {
        println!("{}", json_report(&plugin, &limits, &outcome)?);
    } else {
        print!("{}", human_report(&plugin, &limits, &outcome));
    }
    Ok(outcome.is_success())
}

/// Buckets in `redis` when given (as a host keeps them), else in memory:
/// `wasmq call` runs one task and keeps nothing.
fn attach_kv(
    tokio: &tokio::runtime::Runtime,
    runtime: &Runtime,
    redis: Option<&str>,
) -> Result<()> {
    let store: std::sync::Arc<dyn crate::runtime::KvStore> = match redis {
        None => std::sync::Arc::new(crate::runtime::MemoryKv::new()),
        Some(url) => {
            let options = crate::broker::BrokerOptions::default();
            let client = tokio
                .block_on(crate::broker::Client::connect(url, options))
                .with_context(|| {
                    format!(
                        "cannot connect to Redis at {}",
                        crate::broker::mask_password(url)
                    )
                })?;
            std::sync::Arc::new(crate::worker::RedisKv::new(client))
        }
    };
    runtime.attach_kv(store);
    Ok(())
}

fn read_payload(args: &CallArgs) -> Result<Vec<u8>> {
    if let Some(stdin) = &args.stdin
        && stdin != "-"
    {
        bail!(
            "unexpected argument `{stdin}`: only `-` (payload from standard input) may follow the plugin"
        );
    }
    if let Some(json) = &args.payload {
        serde_json::from_str::<serde::de::IgnoredAny>(json).with_context(|| {
            format!("--payload is not valid JSON ({json}); use --payload-file for raw bytes")
        })?;
        return Ok(json.clone().into_bytes());
    }
    match (&args.payload_file, &args.stdin) {
        (Some(path), _) if path != Path::new("-") => std::fs::read(path)
            .with_context(|| format!("cannot read --payload-file {}", path.display())),
        (Some(_), _) | (None, Some(_)) => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read the payload from standard input")?;
            Ok(bytes)
        }
        (None, None) => Ok(Vec::new()),
    }
}

/// The plugin's limits with the command-line flags applied and checked.
fn overridden(limits: Limits, args: &CallArgs) -> Result<Limits> {
    let limits = Limits {
        fuel: args.fuel.unwrap_or(limits.fuel),
        timeout: args.timeout.unwrap_or(limits.timeout),
        memory: args.memory.unwrap_or(limits.memory),
        max_output: args.max_output.unwrap_or(limits.max_output),
    };
    limits
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid --{}: {}", e.key.replace('_', "-"), e.message))?;
    Ok(limits)
}

fn json_report(plugin: &Plugin, limits: &Limits, outcome: &Outcome) -> Result<String> {
    let mut report = serde_json::to_value(outcome).context("cannot encode the outcome")?;
    if let Some(object) = report.as_object_mut() {
        object.insert(
            "plugin".into(),
            serde_json::json!({
                "name": plugin.task_type(),
                "version": plugin.version(),
                "kind": plugin.kind(),
                "from_cache": plugin.from_cache(),
                "load_ms": plugin.load_time().as_secs_f64() * 1000.0,
                "limits": limits,
            }),
        );
    }
    Ok(report.to_string())
}

fn human_report(plugin: &Plugin, limits: &Limits, outcome: &Outcome) -> String {
    let mut text = format!(
        "plugin:  {} {} ({}, {} in {:.1} ms)\nlimits:  {limits}\noutcome: {}\n",
        plugin.task_type(),
        plugin.version(),
        plugin.kind(),
        if plugin.from_cache() {
            "loaded from cache"
        } else {
            "compiled"
        },
        plugin.load_time().as_secs_f64() * 1000.0,
        outcome.kind.describe(),
    );
    if let OutcomeKind::Success {
        output,
        content_type,
    } = &outcome.kind
    {
        let content_type = content_type.as_deref().unwrap_or("no content type");
        match std::str::from_utf8(output) {
            Ok(utf8) => text.push_str(&format!(
                "output ({content_type}, {} bytes):\n{utf8}\n",
                output.len()
            )),
            Err(_) => {
                let head = hex::encode(&output[..output.len().min(32)]);
                text.push_str(&format!(
                    "output ({content_type}, {} bytes, binary): {head}{}\n",
                    output.len(),
                    if output.len() > 32 { "..." } else { "" }
                ));
            }
        }
    }
    text.push_str(&format!(
        "cost:    fuel {}, peak memory {}, wall time {:.3} ms\n",
        outcome.fuel_used,
        format_size(outcome.peak_memory),
        outcome.wall_time.as_secs_f64() * 1000.0
    ));
    if let Some((percent, note)) = &outcome.progress {
        text.push_str(&format!("progress: {percent}% {note}\n"));
    }
    // Only a successful run keeps its children (the runtime drops the rest).
    if !outcome.children.is_empty() {
        text.push_str(&format!(
            "children ({}, a host would enqueue them with the ack):\n",
            outcome.children.len()
        ));
        for child in &outcome.children {
            text.push_str(&format!("  {} ({} bytes)\n", child.id, child.payload.len()));
        }
    }
    if !outcome.log.is_empty() {
        text.push_str("log:\n");
        for line in outcome.log.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}
