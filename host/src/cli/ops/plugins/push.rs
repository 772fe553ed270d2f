//! `wasmq plugins push FILE`, `history TYPE`, `rollback TYPE [VERSION]` and
//! `remove TYPE`: distributing plugins through Redis instead of a shared
//! directory.
//!
//! `push` refuses, before it connects, what no host would load: the file
//! and its `<type>.toml` are read with the caps a host applies (the
//! plugin's size, the manifest's size and UTF-8), and the module is loaded
//! by [`PluginDir::install_pushed`], the very function hosts run on a
//! pushed version (manifest parser, grants, compile, contract checks), so
//! the error is the one a host would log. Only then is it stored (see
//! `broker/plugin_store.rs`); hosts switch within seconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::super::table::{Table, emit, print_json, relative};
use super::super::{BadInput, Common, Refused};
use crate::broker::PluginStoreError;
use crate::config::units::format_size;
use crate::config::{FileRules, Limits, PluginManifest, read_regular_file};
use crate::plugins::{PluginDir, PushedPlugin, Registry, SyncOutcome, validate_task_type};
use crate::runtime::{DEFAULT_MAX_PLUGIN_SIZE, Runtime, RuntimeOptions};

/// Arguments of `wasmq plugins push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The plugin module. Its manifest, if any, is `<type>.toml` beside it.
    pub file: PathBuf,
    /// The task type it serves (default: the file name without `.wasm`).
    #[arg(long = "type", value_name = "TYPE")]
    pub task_type: Option<String>,
    /// Where compiled plugins are cached (default `$XDG_CACHE_HOME/wasmq`).
    #[arg(long, value_name = "DIR", env = "WASMQ_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq plugins history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The task type.
    pub task_type: String,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq plugins rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The task type.
    pub task_type: String,
    /// The version to run (default: the one before the current one).
    pub version: Option<u64>,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `wasmq plugins remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The task type.
    pub task_type: String,
    #[command(flatten)]
    pub common: Common,
}

/// What `remove --json` prints.
#[derive(Debug, Serialize)]
struct Removed {
    task_type: String,
    /// The version that was current.
    version: u64,
}

/// What `push --json` prints.
#[derive(Debug, Serialize)]
struct Pushed {
    task_type: String,
    version: u64,
    moved: bool,
    sha256: String,
    size: u64,
    manifest: bool,
}

/// Runs `wasmq plugins push`.
pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let shown = file.display();
    let stem = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".wasm"));
    let (task_type, from) = match (&args.task_type, stem) {
        (Some(task_type), _) => (task_type.clone(), "--type"),
        (None, Some(stem)) => (stem.to_owned(), "the file name"),
        (None, None) => {
            return Err(BadInput(format!(
                "{shown}: the task type comes from a file named <type>.wasm; rename it or pass --type TYPE"
            ))
            .into());
        }
    };
    validate_task_type(&task_type).map_err(|reason| {
        BadInput(format!(
            "task type `{task_type}` (from {from}): {reason}; pass --type with letters, digits, `_`, `.` or `-`"
        ))
    })?;
    let rules = FileRules {
        what: "plugin",
        max: DEFAULT_MAX_PLUGIN_SIZE,
        confine: None,
    };
    let refused = |e: &dyn std::fmt::Display| Refused(format!("{e}; nothing was pushed"));
    let bytes = read_regular_file(file, rules).map_err(|e| refused(&e))?;
    let manifest_path = file.with_file_name(format!("{task_type}.toml"));
    let manifest = PluginManifest::read_text(&manifest_path, None).map_err(|e| refused(&e))?;
    check_loads(&args, &task_type, &bytes, manifest.clone()).await?;
    let client = args.common.connect().await?;
    let moved = client
        .plugin_push(
            &task_type,
            &bytes,
            manifest.as_deref(),
            DEFAULT_MAX_PLUGIN_SIZE,
        )
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot push {shown}"))?;
    let report = Pushed {
        task_type,
        version: moved.version,
        moved: moved.moved,
        sha256: hex::encode(Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        manifest: manifest.is_some(),
    };
    if args.common.json {
        return print_json(&report);
    }
    let with = match report.manifest {
        true => format!(" with {}", manifest_path.display()),
        false => String::new(),
    };
    emit(match report.moved {
        true => format!(
            "pushed {shown}{with} as `{}` version {} (sha256 {}, {}); hosts switch to it within seconds\n",
            report.task_type,
            report.version,
            &report.sha256[..12],
            format_size(report.size)
        ),
        false => format!(
            "`{}` version {} is this module{with} already; nothing changed\n",
            report.task_type, report.version
        ),
    })
}

/// Loads the module as a host loads a pushed version; an error if it fails.
async fn check_loads(
    args: &PushArgs,
    task_type: &str,
    bytes: &[u8],
    manifest: Option<String>,
) -> anyhow::Result<()> {
    let options = RuntimeOptions {
        cache_dir: args.cache_dir.clone(),
        max_instances: 1,
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::new(options).context("cannot start the plugin runtime")?;
    let dir = match args.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let plugins = PluginDir::open(dir, runtime, Limits::default())
        .with_context(|| format!("cannot check {}", args.file.display()))?;
    let pushed = PushedPlugin {
        task_type: task_type.to_owned(),
        version: 0,
        bytes: bytes.to_vec(),
        manifest,
        file: Some(args.file.clone()),
    };
    match plugins.install_pushed(&Registry::new(), pushed).await {
        SyncOutcome::Failed(failure) => Err(Refused(format!(
            "{failure}; a host would not load it, so nothing was pushed"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Runs `wasmq plugins history`.
pub async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let task_type = checked_type(&args.task_type)?;
    let client = args.common.connect().await?;
    let history = client
        .plugin_history(task_type)
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot read the history of `{task_type}`"))?
        .ok_or_else(|| {
            store_error(PluginStoreError::UnknownType {
                task_type: task_type.to_owned(),
            })
        })?;
    if args.common.json {
        return print_json(&history);
    }
    let now = SystemTime::now();
    let mut table = Table::new(["version", "current", "pushed", "size", "sha256", "manifest"]);
    for v in &history.versions {
        let at = UNIX_EPOCH + Duration::from_millis(v.pushed_at_ms);
        table.row([
            v.version.to_string(),
            if v.version == history.current {
                "*"
            } else {
                ""
            }
            .to_owned(),
            relative(at, now),
            format_size(v.size),
            v.sha256.chars().take(12).collect(),
            if v.manifest.is_some() { "yes" } else { "no" }.to_owned(),
        ]);
    }
    table.print_or("no versions are kept")
}

/// Runs `wasmq plugins rollback`.
pub async fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    let task_type = checked_type(&args.task_type)?;
    if args.version == Some(0) {
        return Err(BadInput("version 0: versions are numbered from 1".into()).into());
    }
    let client = args.common.connect().await?;
    let moved = client
        .plugin_rollback(task_type, args.version)
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot roll `{task_type}` back"))?;
    if args.common.json {
        return print_json(&moved);
    }
    emit(match moved.moved {
        true => format!(
            "`{task_type}` now runs version {}; hosts switch to it within seconds\n",
            moved.version
        ),
        false => format!(
            "`{task_type}` runs version {} already; nothing changed\n",
            moved.version
        ),
    })
}

/// Runs `wasmq plugins remove`.
pub async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let task_type = checked_type(&args.task_type)?;
    let client = args.common.connect().await?;
    let version = client
        .plugin_remove(task_type)
        .await
        .map_err(store_error)
        .with_context(|| format!("cannot remove the pushed plugin `{task_type}`"))?;
    if args.common.json {
        return print_json(&Removed {
            task_type: task_type.to_owned(),
            version,
        });
    }
    emit(format!(
        "removed every pushed version of `{task_type}` (version {version} was current); hosts stop \
         serving it within seconds, and its queued tasks wait until a plugin for it is pushed again \
         or put in a plugins directory\n"
    ))
}

fn checked_type(task_type: &str) -> anyhow::Result<&str> {
    validate_task_type(task_type)
        .map_err(|reason| BadInput(format!("task type `{task_type}`: {reason}")))?;
    Ok(task_type)
}

/// A store error with the exit code its kind calls for: Redis failures as
/// the broker's (3 when unreachable), the rest refused (1).
fn store_error(error: PluginStoreError) -> anyhow::Error {
    match error {
        PluginStoreError::Broker(e) => e.into(),
        other => Refused(other.to_string()).into(),
    }
}
