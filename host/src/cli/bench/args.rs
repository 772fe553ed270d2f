//! The flags of `wasmq bench`, and what `--plugin` names: one of the
//! plugins the queue bench knows how to drive, or any plugin file, whose
//! own costs are then measured (see `plugin_cost.rs`).

use super::children::MAX_HOSTS;
use std::path::PathBuf;

/// Most queues `--queues` spreads the backlog over.
pub const MAX_QUEUES: usize = 64;

/// Arguments of `wasmq bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Redis to run against; without it a private redis-server is started.
    /// With it, keys go to a fresh random namespace, deleted at the end.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Tasks in the backlog.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub n: u64,
    /// Payload size per task, bytes (a JSON object; at least 8).
    #[arg(long, value_name = "B", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(8..=1_048_576))]
    pub payload_bytes: u32,
    /// The plugin the drain and live phases run (noop, cpu50, sleep200,
    /// fetch, tally), or the path of any plugin file (`x.wasm`, in any
    /// language) to measure what it costs instead: compile, cache load,
    /// instantiate + call per task and memory per instance, with no Redis.
    #[arg(long, value_name = "NAME|PATH", default_value = "noop", value_parser = parse_plugin)]
    pub plugin: PluginChoice,
    /// With `--plugin PATH`: the payload of every run.
    #[arg(long, value_name = "TEXT", default_value = "{}")]
    pub payload: String,
    /// With `--plugin PATH`: the manifest that grants it what it imports,
    /// instead of the `<stem>.toml` beside the file (the built plugins in
    /// `plugins/dist` have none; their manifests are beside their sources).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// With `--plugin PATH`: runs measured one at a time.
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs: u32,
    /// Tasks per second in the live phase.
    #[arg(long, value_name = "R", default_value_t = 100.0, value_parser = parse_rate)]
    pub live_rate: f64,
    /// Tasks sent in the live phase.
    #[arg(long, value_name = "M", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub live_n: u32,
    /// Run the host in this process (the default).
    #[arg(long, conflicts_with = "child")]
    pub in_process: bool,
    /// Run the host as a `wasmq run` child process.
    #[arg(long)]
    pub child: bool,
    /// Run K hosts, each a `wasmq run` child process with `--concurrency C`,
    /// all serving the same plugins (implies `--child`): the drain's
    /// throughput with K hosts, their CPU summed.
    #[arg(long, value_name = "K", value_parser = parse_hosts, conflicts_with = "in_process")]
    pub hosts: Option<usize>,
    /// Spread the backlog round-robin over Q queues, each served by a copy
    /// of the plugin (`noop`, `noop-2`, … `noop-Q`). On Redis Cluster a
    /// queue lives on one master (its hash tag): several queues are what
    /// spreads the work over the masters.
    #[arg(long, value_name = "Q", default_value_t = 1, value_parser = parse_queues)]
    pub queues: usize,
    /// The host's concurrency (default: one per core; with `--plugin PATH`,
    /// the runs started at once, default 8).
    #[arg(long, value_name = "C", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Option<u32>,
    /// Also run an encrypted pass (payloads and outputs sealed with a
    /// random key) and report its Redis and host CPU per task beside the
    /// plain figures.
    #[arg(long)]
    pub encrypt: bool,
    /// Print only the JSON line, without progress bars or summary.
    #[arg(long)]
    pub json: bool,
    /// Directory holding the built plugins (`noop.wasm`, `cpu50.wasm`,
    /// `sleep200.wasm`).
    #[arg(long, value_name = "DIR", default_value = "plugins/dist")]
    pub plugins: PathBuf,
    /// Also measure the cost of a rate-limited lease: two more drains of
    /// up to 20,000 tasks, plain and under this limit (e.g. 1000000/s, high
    /// enough not to bind).
    #[arg(long, value_name = "COUNT/UNIT", value_parser = parse_limit)]
    pub rate: Option<crate::ratelimit::Rate>,
}

fn parse_limit(text: &str) -> Result<crate::ratelimit::Rate, String> {
    crate::ratelimit::Rate::parse(text).map_err(|e| e.to_string())
}

/// The plugins the bench knows how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPlugin {
    /// Returns at once: measures the queue's own overhead.
    Noop,
    /// Burns about 50 µs of CPU per call: a small real handler.
    Cpu50,
    /// Sleeps 200 ms in a WASI call: a handler that waits on I/O, to run
    /// with a high `--concurrency` (many runs in flight, little CPU).
    Sleep200,
    /// One HTTP GET per task to a loopback server the bench starts and grants.
    Fetch,
    /// A key-value set and get per task, in the host's Redis.
    Tally,
}

impl BenchPlugin {
    /// The task type it serves (also its file's stem and its queue).
    pub fn task_type(self) -> &'static str {
        match self {
            BenchPlugin::Noop => "noop",
            BenchPlugin::Cpu50 => "cpu50",
            BenchPlugin::Sleep200 => "sleep200",
            BenchPlugin::Fetch => "fetch",
            BenchPlugin::Tally => "tally",
        }
    }
}

/// `--hosts`: a whole number from 1 to [`MAX_HOSTS`].
fn parse_hosts(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(k) if (1..=MAX_HOSTS).contains(&k) => Ok(k),
        _ => Err(format!(
            "`{text}` is not a host count: give a whole number from 1 to {MAX_HOSTS} \
             (each host is a `wasmq run` child process)"
        )),
    }
}

/// `--queues`: a whole number from 1 to [`MAX_QUEUES`].
fn parse_queues(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(q) if (1..=MAX_QUEUES).contains(&q) => Ok(q),
        _ => Err(format!(
            "`{text}` is not a queue count: give a whole number from 1 to {MAX_QUEUES}"
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= 100_000.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate between 0 and 100000 tasks per second"
        )),
    }
}

/// What `--plugin` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginChoice {
    /// A plugin of `--plugins DIR` the queue bench drives.
    Builtin(BenchPlugin),
    /// Any plugin file, measured on its own.
    File(PathBuf),
}

fn parse_plugin(text: &str) -> Result<PluginChoice, String> {
    use clap::ValueEnum;
    if let Ok(plugin) = BenchPlugin::from_str(text, false) {
        return Ok(PluginChoice::Builtin(plugin));
    }
    if text.ends_with(".wasm") || text.contains('/') {
        return Ok(PluginChoice::File(PathBuf::from(text)));
    }
    Err(format!(
        "`{text}` is neither a bench plugin (noop, cpu50, sleep200, fetch, tally) nor a \
         plugin file: give a path ending in .wasm"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_a_builtin_or_a_file() {
        assert_eq!(
            parse_plugin("cpu50"),
            Ok(PluginChoice::Builtin(BenchPlugin::Cpu50))
        );
        assert_eq!(
            parse_plugin("plugins/dist/email-py.wasm"),
            Ok(PluginChoice::File("plugins/dist/email-py.wasm".into()))
        );
        assert_eq!(
            parse_plugin("x.wasm"),
            Ok(PluginChoice::File("x.wasm".into()))
        );
        let error = parse_plugin("nope").unwrap_err();
        assert!(error.contains("path ending in .wasm"), "{error}");
    }

    #[test]
    fn host_counts_are_bounded() {
        assert_eq!(parse_hosts("1"), Ok(1));
        assert_eq!(parse_hosts("64"), Ok(64));
        for bad in ["0", "65", "-1", "two", ""] {
            let error = parse_hosts(bad).unwrap_err();
            assert!(error.contains("from 1 to 64"), "{error}");
        }
        assert_eq!(parse_queues("3"), Ok(3));
        assert!(parse_queues("0").unwrap_err().contains("queue count"));
    }
}
