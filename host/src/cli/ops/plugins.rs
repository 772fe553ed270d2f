//! `wasmq plugins` and `wasmq plugins check FILE` (`push`, `history`,
//! `rollback` and `remove` are in `plugins/push.rs`).
//!
//! The listing comes from the hosts' heartbeats, not from a directory: what
//! matters to an operator is what the running fleet actually serves, and
//! two hosts can briefly serve different versions of a type during a
//! rollout, so each (type, version) pair is its own row.
//!
//! `check` loads a file through the same path a host takes for a file in its
//! plugins directory ([`PluginDir::sync`]: name check, regular-file and
//! symlink checks against the file's directory, size caps, manifest,
//! compile or cache, contract check, linking), so "check passes" means "a
//! host would serve it" and the error is the one the host would log.

mod push;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::exit::within;
use super::table::{Table, emit, list_or_dash, print_json, short_duration};
use super::{BadInput, Common, Refused};
use crate::broker::HostInfo;
use crate::config::Limits;
use crate::plugins::{PluginDir, PluginPolicy, Registry, SyncOutcome};
use crate::runtime::{Runtime, RuntimeOptions};

/// Arguments of `wasmq plugins`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PluginsArgs {
    #[command(subcommand)]
    pub action: Option<PluginsAction>,
    #[command(flatten)]
    pub common: Common,
}

/// What `wasmq plugins` can do besides listing.
#[derive(Debug, Subcommand)]
pub enum PluginsAction {
    /// Load a plugin file locally exactly as a host would (with its
    /// `<type>.toml` manifest) and report its kind, version and limits, or
    /// why it cannot be served. Exit 0 if it loads, 1 if not.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Check(CheckArgs),
    /// Store a plugin in Redis and make it the current version of its task
    /// type: every host loads it, without a shared plugins directory. The
    /// file is checked as `check` does first; nothing is stored if it fails.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Push(push::PushArgs),
    /// List the kept versions of a pushed plugin: when, size, sha256, and
    /// which one hosts run.
    #[command(after_help = super::EXIT_CODES_HELP)]
    History(push::HistoryArgs),
    /// Make hosts run an earlier pushed version (default: the one before).
    #[command(after_help = super::EXIT_CODES_HELP)]
    Rollback(push::RollbackArgs),
    /// Stop serving a pushed plugin: every stored version is deleted and
    /// hosts unload it within seconds. Its queued tasks wait until a plugin
    /// for the type is pushed again or put in a plugins directory.
    #[command(after_help = super::EXIT_CODES_HELP)]
    Remove(push::RemoveArgs),
}

/// Arguments of `wasmq plugins check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin, named `<type>.wasm` as in a plugins directory.
    pub file: PathBuf,
    /// Where compiled plugins are cached (default `$XDG_CACHE_HOME/wasmq`).
    #[arg(long, value_name = "DIR", env = "WASMQ_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile without reading or writing the cache (to time a cold compile).
    #[arg(long)]
    pub no_cache: bool,
    /// Print one JSON document instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wasmq plugins [check]`.
pub async fn run(args: PluginsArgs) -> anyhow::Result<()> {
    match args.action {
        Some(PluginsAction::Check(check_args)) => check(check_args).await,
        Some(PluginsAction::Push(push_args)) => push::push(push_args).await,
        Some(PluginsAction::History(history_args)) => push::history(history_args).await,
        Some(PluginsAction::Rollback(rollback_args)) => push::rollback(rollback_args).await,
        Some(PluginsAction::Remove(remove_args)) => push::remove(remove_args).await,
        None => list(args.common).await,
    }
}

/// One row of the listing: a plugin version and the hosts serving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Served {
    /// The task type.
    pub task_type: String,
    /// The plugin version (short SHA-256), `-` if a host did not say.
    pub version: String,
    /// Ids of the hosts serving this version, sorted.
    pub hosts: Vec<String>,
}

/// Groups the heartbeats' `type@version` entries by type and version.
pub fn served(hosts: &[HostInfo]) -> Vec<Served> {
    let mut map: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for host in hosts {
        for entry in &host.plugins {
            let (task_type, version) = entry.split_once('@').unwrap_or((entry, "-"));
            map.entry((task_type.to_owned(), version.to_owned()))
                .or_default()
                .push(host.host_id.clone());
        }
    }
    map.into_iter()
        .map(|((task_type, version), mut hosts)| {
            hosts.sort();
            hosts.dedup();
            Served {
                task_type,
                version,
                hosts,
            }
        })
        .collect()
}

async fn list(common: Common) -> anyhow::Result<()> {
    let client = common.connect().await?;
    let hosts = within("list the live hosts", client.hosts()).await?;
    let rows = served(&hosts);
    if common.json {
        return print_json(&rows);
    }
    let mut table = Table::new(["type", "version", "hosts", "host ids"]);
    for row in &rows {
        table.row([
            row.task_type.clone(),
            row.version.clone(),
            row.hosts.len().to_string(),
            list_or_dash(&row.hosts),
        ]);
    }
    if hosts.is_empty() {
        emit("no live hosts, so no plugins are served: start one with `wasmq run --plugins DIR`\n")
    } else {
        table.print_or(
            "the live hosts serve no plugins: put <type>.wasm files in their plugins directory, \
             or push one with `wasmq plugins push FILE`",
        )
    }
}

/// What `plugins check --json` prints.
#[derive(Debug, Serialize)]
struct CheckReport {
    file: PathBuf,
    task_type: String,
    ok: bool,
    error: Option<String>,
    kind: Option<String>,
    version: Option<String>,
    limits: Option<Limits>,
    policy: Option<PluginPolicy>,
    from_cache: Option<bool>,
    load_ms: Option<f64>,
}

async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let shown = file.display();
    let (Some(dir), Some(task_type)) = (
        file.parent().map(|p| {
            if p.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                p
            }
        }),
        file.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".wasm")),
    ) else {
        return Err(BadInput(format!(
            "{shown}: a plugin file must be named <type>.wasm (the task type it serves), as in a \
             host's plugins directory; rename it"
        ))
        .into());
    };
    let options = RuntimeOptions {
        cache_dir: args.cache_dir.clone(),
        disk_cache: !args.no_cache,
        max_instances: 1,
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::new(options).context("cannot start the plugin runtime")?;
    let plugins = PluginDir::open(dir, runtime, Limits::default())
        .with_context(|| format!("cannot check {shown}"))?;
    let registry = Registry::new();
    let outcome = plugins.sync(&registry, task_type).await;
    let mut report = CheckReport {
        file: file.clone(),
        task_type: task_type.to_owned(),
        ok: false,
        error: None,
        kind: None,
        version: None,
        limits: None,
        policy: None,
        from_cache: None,
        load_ms: None,
    };
    match (outcome, registry.get_loaded(task_type)) {
        (SyncOutcome::Loaded { .. }, Some(loaded)) => {
            let plugin = &loaded.plugin;
            report.ok = true;
            report.kind = Some(plugin.kind().to_string());
            report.version = Some(plugin.version().to_owned());
            report.limits = Some(plugin.limits());
            report.policy = Some(loaded.policy.clone());
            report.from_cache = Some(plugin.from_cache());
            report.load_ms = Some(plugin.load_time().as_secs_f64() * 1000.0);
        }
        (SyncOutcome::Failed(failure), _) => report.error = Some(failure.to_string()),
        (SyncOutcome::Absent, _) => {
            return Err(Refused(format!("{shown} does not exist; check the path")).into());
        }
        (other, _) => report.error = Some(format!("unexpected load outcome {other:?}")),
    }
    if args.json {
        print_json(&report)?;
    } else if report.ok {
        emit(describe(&report))?;
    }
    match report.error {
        Some(error) => Err(Refused(format!("{error}; a host would not serve this file")).into()),
        None => Ok(()),
    }
}

fn describe(report: &CheckReport) -> String {
    let dash = || "-".to_owned();
    let load = match (report.load_ms, report.from_cache) {
        (Some(ms), Some(true)) => format!("{ms:.1} ms (from the compile cache)"),
        (Some(ms), _) => format!("{ms:.1} ms (compiled)"),
        _ => dash(),
    };
    let policy = report.policy.as_ref().map_or_else(dash, policy_text);
    format!(
        "ok: {} would serve task type `{}`\nkind:    {}\nversion: {}\nlimits:  {}\npolicy:  {policy}\nload:    {load}\n",
        report.file.display(),
        report.task_type,
        report.kind.clone().unwrap_or_else(dash),
        report.version.clone().unwrap_or_else(dash),
        report.limits.map_or_else(dash, |l| l.to_string()),
    )
}

/// The manifest's worker settings that are set; the others are host defaults.
fn policy_text(policy: &PluginPolicy) -> String {
    let mut set = Vec::new();
    if let Some(n) = policy.max_concurrency {
        set.push(format!("max_concurrency {n}"));
    }
    if let Some(n) = policy.max_retries {
        set.push(format!("max_retries {n}"));
    }
    if let Some(d) = policy.backoff_base {
        set.push(format!("backoff_base {}", short_duration(d)));
    }
    if let Some(d) = policy.backoff_cap {
        set.push(format!("backoff_cap {}", short_duration(d)));
    }
    match set.len() {
        0 => "host defaults".to_owned(),
        4 => set.join(", "),
        _ => format!("{}; the rest host defaults", set.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(id: &str, plugins: &[&str]) -> HostInfo {
        HostInfo {
            host_id: id.into(),
            hostname: "box".into(),
            pid: 1,
            version: "0.1.0".into(),
            started_at_ms: 0,
            plugins: plugins.iter().map(|p| p.to_string()).collect(),
            in_flight: 0,
            processed: 0,
            last_seen_ms: 0,
        }
    }

    #[test]
    fn policy_shows_what_the_manifest_sets() {
        let mut policy = PluginPolicy::default();
        assert_eq!(policy_text(&policy), "host defaults");
        policy.max_retries = Some(2);
        policy.backoff_cap = Some(std::time::Duration::from_secs(90));
        assert_eq!(
            policy_text(&policy),
            "max_retries 2, backoff_cap 1m 30s; the rest host defaults"
        );
    }

    #[test]
    fn groups_by_type_and_version() {
        let rows = served(&[
            host("b", &["echo@v1", "noop@n1"]),
            host("a", &["echo@v1"]),
            host("c", &["echo@v2", "odd"]),
        ]);
        let summary: Vec<(String, String, Vec<String>)> = rows
            .into_iter()
            .map(|r| (r.task_type, r.version, r.hosts))
            .collect();
        let s = |v: &str| v.to_owned();
        assert_eq!(
            summary,
            vec![
                (s("echo"), s("v1"), vec![s("a"), s("b")]),
                (s("echo"), s("v2"), vec![s("c")]),
                (s("noop"), s("n1"), vec![s("b")]),
                (s("odd"), s("-"), vec![s("c")]),
            ]
        );
    }
}
