//! Loading plugin files into the registry.
//!
//! [`PluginDir::sync`] makes the registry agree with the disk for one task
//! type: it loads `<type>.wasm` with its `<type>.toml` if they changed,
//! removes the type if the file is gone, and otherwise leaves the serving
//! version alone. The initial scan and the watcher both go through it, so a
//! plugin behaves the same whether it was there at start or copied in later.
//!
//! Each sync reads `<type>.wasm` and its manifest once, into a
//! [`PluginFile`]: the hash that decides whether anything changed and the
//! code that is compiled come from the same bytes, so a file replaced
//! mid-load cannot be served under the previous file's hash (a further
//! event syncs the new one). The read refuses FIFOs, devices and
//! directories without blocking on them, is capped (the plugin at
//! [`PluginDir::with_max_file_size`], the manifest at
//! [`MAX_MANIFEST_SIZE`](crate::config::MAX_MANIFEST_SIZE)), and follows a
//! symlink only when its resolved target is inside the plugins directory
//! (see [`read_regular_file`](crate::config::read_regular_file) for why).
//! The loads semaphore bounds how many files are held in memory at once.
//!
//! Reading, hashing and compiling run on blocking threads: a large module
//! takes seconds to compile and must not stall the tasks already running.
//! A failure concerns one file only. It is logged with the file and the
//! problem, counted in `wasmq_plugin_load_failures_total{task_type}` and kept in
//! the registry's entries, and the previous version (if any) keeps serving.

use super::error::{LoadFailure, PluginDirError};
use super::name::{list_task_types, validate_task_type};
use super::registry::{Fingerprint, LoadedPlugin, Origin, PluginPolicy, Registry};
use crate::config::{Limits, PluginManifest};
use crate::runtime::{DEFAULT_MAX_PLUGIN_SIZE, LoadError, Plugin, PluginFile, Runtime};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::Semaphore;
use tracing::{Span, debug, info, instrument, warn};

/// Largest plugin file accepted by default: 256 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = DEFAULT_MAX_PLUGIN_SIZE;

/// The plugins directory: where plugins come from and how they are loaded.
/// Cheap to clone.
#[derive(Clone)]
pub struct PluginDir {
    inner: Arc<DirInner>,
}

#[derive(Clone)]
struct DirInner {
    dir: PathBuf,
    runtime: Runtime,
    defaults: Limits,
    max_file_size: u64,
    /// Bounds how many files are hashed and compiled at once, however many
    /// change together (a deploy of hundreds of plugins must not start
    /// hundreds of compiles on the blocking pool).
    loads: Arc<Semaphore>,
    /// Grants added to some types' manifests ([`PluginDir::with_grants`]).
    grants: Arc<BTreeMap<String, PluginManifest>>,
}

impl std::fmt::Debug for PluginDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDir")
            .field("dir", &self.inner.dir)
            .field("defaults", &self.inner.defaults)
            .field("max_file_size", &self.inner.max_file_size)
            .finish_non_exhaustive()
    }
}

/// What [`PluginDir::sync`] did for one task type.
#[derive(Debug)]
pub enum SyncOutcome {
    /// A new version was compiled and swapped in.
    Loaded {
        /// Its short SHA-256.
        version: String,
    },
    /// The file and manifest match the serving version: nothing to do.
    Unchanged,
    /// The file is gone and the type was removed.
    Removed,
    /// There is no file and the registry did not know the type.
    Absent,
    /// The file could not be loaded; the previous version (if any) serves.
    Failed(LoadFailure),
}

/// The result of a full scan, sorted by task type.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Types whose plugin was (re)loaded.
    pub loaded: Vec<String>,
    /// Types whose files had not changed.
    pub unchanged: Vec<String>,
    /// Types removed because their file is gone.
    pub removed: Vec<String>,
    /// Types that failed, with the error message.
    pub failed: Vec<(String, String)>,
}

impl PluginDir {
    /// Opens `dir`, which must exist and be a listable directory. `defaults`
    /// are the host limits that manifests override.
    pub fn open(
        dir: impl Into<PathBuf>,
        runtime: Runtime,
        defaults: Limits,
    ) -> Result<PluginDir, PluginDirError> {
        let dir = dir.into();
        match std::fs::metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PluginDirError::Missing { path: dir });
            }
            Err(source) => return Err(PluginDirError::List { path: dir, source }),
            Ok(meta) if !meta.is_dir() => return Err(PluginDirError::NotADirectory { path: dir }),
            Ok(_) => {}
        }
        Ok(PluginDir {
            inner: Arc::new(DirInner {
                dir,
                runtime,
                defaults,
                max_file_size: DEFAULT_MAX_FILE_SIZE,
                loads: Arc::new(Semaphore::new(load_parallelism())),
                grants: Arc::default(),
            }),
        })
    }

    /// Sets the largest plugin file accepted (default 256 MiB). Clones made
    /// before keep their cap.
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        Arc::make_mut(&mut self.inner).max_file_size = bytes;
        self
    }

    /// Adds grants to the manifests of some task types, merged over each
    /// `<type>.toml` (or standing in for a missing one) on every load, as
    /// [`PluginManifest::with_grants_from`] merges: how `wasmq dev --demo`
    /// grants its mail API and image server, whose ports no file can know.
    pub fn with_grants(mut self, grants: BTreeMap<String, PluginManifest>) -> Self {
        Arc::make_mut(&mut self.inner).grants = Arc::new(grants);
        self
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The largest plugin accepted, in bytes (pushed ones too).
    pub fn max_file_size(&self) -> u64 {
        self.inner.max_file_size
    }

    /// The runtime plugins are compiled with.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Loads every plugin in the directory, and removes from `registry` the
    /// types whose file is gone. One broken file does not stop the others:
    /// it is reported in the result and in the registry's entries.
    pub async fn scan(&self, registry: &Registry) -> Result<ScanReport, PluginDirError> {
        let mut task_types = self.task_types_on_disk().await?;
        task_types.extend(registry.known_types());
        let parallelism = load_parallelism();
        let mut outcomes: Vec<(String, SyncOutcome)> = futures::stream::iter(task_types)
            .map(|task_type| async move {
                let outcome = self.sync(registry, &task_type).await;
                (task_type, outcome)
            })
            .buffer_unordered(parallelism)
            .collect()
            .await;
        outcomes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut report = ScanReport::default();
        for (task_type, outcome) in outcomes {
            match outcome {
                SyncOutcome::Loaded { .. } => report.loaded.push(task_type),
                SyncOutcome::Unchanged => report.unchanged.push(task_type),
                SyncOutcome::Removed => report.removed.push(task_type),
                SyncOutcome::Absent => {}
                SyncOutcome::Failed(failure) => {
                    report.failed.push((task_type, failure.to_string()))
                }
            }
        }
        Ok(report)
    }

    /// The task types of every `.wasm` file in the directory (their
    /// stems), valid or not (invalid names are then reported by
    /// [`PluginDir::sync`]).
    pub(crate) async fn task_types_on_disk(&self) -> Result<BTreeSet<String>, PluginDirError> {
        let dir = self.inner.dir.clone();
        tokio::task::spawn_blocking(move || list_task_types(&dir))
            .await
            .unwrap_or_else(|e| {
                Err(PluginDirError::List {
                    path: self.inner.dir.clone(),
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    /// Makes the registry agree with the disk for `task_type`: loads
    /// `<task_type>.wasm` (with its manifest) if it changed, removes the type if
    /// the file is gone, and records a failure while keeping the serving
    /// version.
    #[instrument(skip_all, fields(task_type = %task_type, version = tracing::field::Empty))]
    pub async fn sync(&self, registry: &Registry, task_type: &str) -> SyncOutcome {
        let path = self.inner.dir.join(format!("{task_type}.wasm"));
        match self.try_sync(registry, task_type, &path).await {
            Ok(outcome) => outcome,
            Err(failure) => {
                let serving = registry.get(task_type).map(|p| p.version().to_owned());
                warn!(
                    file = %path.display(),
                    error = %failure,
                    serving = serving.as_deref().unwrap_or("none"),
                    "plugin failed to load; the previously loaded version (if any) keeps serving"
                );
                metrics::counter!("wasmq_plugin_load_failures_total", "task_type" => task_type.to_owned())
                    .increment(1);
                let error = Some(failure.to_string());
                registry.set_error(task_type, path, Origin::Directory, error);
                SyncOutcome::Failed(failure)
            }
        }
    }

    async fn try_sync(
        &self,
        registry: &Registry,
        task_type: &str,
        path: &Path,
    ) -> Result<SyncOutcome, LoadFailure> {
        // A pushed type is not the directory's: its file is refused, its absence removes nothing.
        if let Some((pushed @ Origin::Pushed { .. }, from)) = registry.origin(task_type) {
            return match std::fs::symlink_metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncOutcome::Absent),
                _ => Err(LoadFailure::conflict(
                    task_type,
                    (pushed, &from),
                    (Origin::Directory, path),
                )),
            };
        }
        // The semaphore is never closed, so acquiring cannot fail.
        let _slot = self.inner.loads.acquire().await.ok();
        let inner = Arc::clone(&self.inner);
        let (task_type_owned, path_owned) = (task_type.to_owned(), path.to_owned());
        let file = run_blocking(path, move || {
            read_plugin(
                &task_type_owned,
                &path_owned,
                &inner.dir,
                inner.max_file_size,
            )
        })
        .await?;
        let Some(file) = file else {
            return Ok(if registry.remove(task_type) {
                info!(file = %path.display(), "plugin removed; tasks of this type wait until it is back");
                SyncOutcome::Removed
            } else {
                SyncOutcome::Absent
            });
        };
        // Before the fingerprint, so a change of grant reloads like a change of file.
        let file = self.add_grants(task_type, file)?;
        let fingerprint = Fingerprint {
            wasm_sha256: file.sha256().to_owned(),
            manifest: file.manifest().cloned(),
        };
        if registry.fingerprint(task_type).as_ref() == Some(&fingerprint) {
            debug!(file = %path.display(), "plugin unchanged");
            registry.set_error(task_type, path.to_owned(), Origin::Directory, None);
            return Ok(SyncOutcome::Unchanged);
        }
        let plugin = self.compile(task_type, file).await?;
        let loaded = LoadedPlugin {
            policy: PluginPolicy::from_manifest(plugin.manifest()),
            plugin: plugin.clone(),
            loaded_at: SystemTime::now(),
            fingerprint,
        };
        registry
            .install(task_type, path.to_owned(), Origin::Directory, loaded)
            .map_err(|existing| {
                let existing = (existing.0, existing.1.as_path());
                LoadFailure::conflict(task_type, existing, (Origin::Directory, path))
            })?;
        Span::current().record("version", plugin.version());
        info!(
            file = %path.display(),
            version = plugin.version(),
            limits = %plugin.limits(),
            "plugin swapped in"
        );
        metrics::counter!("wasmq_plugin_reloads_total", "task_type" => task_type.to_owned())
            .increment(1);
        Ok(SyncOutcome::Loaded {
            version: plugin.version().to_owned(),
        })
    }

    /// `file` with the grants given for `task_type` merged over its manifest.
    pub(super) fn add_grants(
        &self,
        task_type: &str,
        file: PluginFile,
    ) -> Result<PluginFile, LoadFailure> {
        let Some(extra) = self.inner.grants.get(task_type) else {
            return Ok(file);
        };
        let source = Path::new("the grants given to the host for this type");
        let merged = file
            .manifest()
            .cloned()
            .unwrap_or_default()
            .with_grants_from(extra, source)
            .map_err(LoadError::from)?;
        Ok(file.with_manifest(Some(merged)))
    }

    /// [`PluginDir::compile`] once one of the load slots is free (a push
    /// compiles alongside the directory's loads, not beyond their bound).
    pub(super) async fn compile_bounded(
        &self,
        task_type: &str,
        file: PluginFile,
    ) -> Result<Plugin, LoadFailure> {
        let _slot = self.inner.loads.acquire().await.ok();
        self.compile(task_type, file).await
    }

    /// Compiles the bytes read for `task_type`, with their manifest over the
    /// host defaults.
    pub(super) async fn compile(
        &self,
        task_type: &str,
        file: PluginFile,
    ) -> Result<Plugin, LoadFailure> {
        let inner = Arc::clone(&self.inner);
        let task_type = task_type.to_owned();
        let path = file.path().to_owned();
        run_blocking(&path, move || {
            inner
                .runtime
                .load_file(&task_type, &file, inner.defaults)
                .map_err(LoadFailure::from)
        })
        .await
    }
}

/// How many plugins load at once: compiling is CPU-bound and wasmtime
/// already compiles the functions of one module in parallel.
fn load_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// Runs `work` on a blocking thread; a panic becomes a [`LoadFailure`].
async fn run_blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, LoadFailure> + Send + 'static,
) -> Result<T, LoadFailure> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(LoadFailure::Interrupted {
            path: path.to_owned(),
            message: e.to_string(),
        })
    })
}

/// Reads `<task_type>.wasm` and its manifest from `dir`, once; `None` if
/// the plugin does not exist. A bad name is refused before anything is read.
fn read_plugin(
    task_type: &str,
    path: &Path,
    dir: &Path,
    max: u64,
) -> Result<Option<PluginFile>, LoadFailure> {
    if let Err(reason) = validate_task_type(task_type) {
        return match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => Err(LoadFailure::InvalidName {
                path: path.to_owned(),
                reason,
            }),
        };
    }
    match PluginFile::read(path, max, Some(dir)) {
        Err(e) if e.is_not_found() => Ok(None),
        other => Ok(Some(other?)),
    }
}
