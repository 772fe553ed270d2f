//! The registry: which plugin serves each task type right now.
//!
//! Workers look a plugin up for every task, while reloads are rare, so reads
//! must be cheap and must never wait for a compile. The registry keeps an
//! immutable snapshot (`Arc<BTreeMap>`) behind a `RwLock` that is only held
//! long enough to clone or replace the `Arc`; a reload builds the new
//! snapshot aside and swaps it in whole. Because [`Registry::get`] hands out
//! a clone of the [`Plugin`], a task that is already running keeps its
//! version and finishes on it, whatever the directory does meanwhile.
//!
//! Every swap bumps a generation published on a `tokio::sync::watch`
//! channel, so the worker can refresh the set of queues it leases from.

pub use super::policy::PluginPolicy;
use crate::config::{GrantsSummary, Limits};
use crate::runtime::Plugin;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;
use tokio::sync::watch;

/// What was loaded from disk, to recognise an unchanged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// SHA-256 of the `.wasm` bytes, in hex.
    pub(crate) wasm_sha256: String,
    /// The parsed manifest, if there was one.
    pub(crate) manifest: Option<crate::config::PluginManifest>,
}

/// A plugin that serves its task type, with its manifest policy.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    /// The compiled plugin (a cheap clone).
    pub plugin: Plugin,
    /// Concurrency and retry settings from the manifest.
    pub policy: PluginPolicy,
    /// When this version was swapped in.
    pub loaded_at: SystemTime,
    pub(crate) fingerprint: Fingerprint,
}

/// Where a task type's plugin comes from. A host takes each type from one
/// place only: a type served from one is refused from the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `<type>.wasm` in the plugins directory.
    Directory,
    /// Pushed to Redis (`wasmq plugins push`), at this version.
    Pushed {
        /// The pushed version number.
        version: u64,
    },
}

/// One task type known to the directory, for listings (CLI, HTTP API).
#[derive(Debug, Clone, Serialize)]
pub struct PluginEntry {
    /// The task type (the file stem).
    pub task_type: String,
    /// The `.wasm` file (for a pushed plugin, `pushed:<type>@v<version>`).
    pub path: PathBuf,
    /// Where the plugin comes from.
    pub origin: Origin,
    /// Short SHA-256 of the serving version; `None` if none loaded yet.
    pub version: Option<String>,
    /// What kind of module serves (component or WASI command).
    pub kind: Option<String>,
    /// The effective limits of the serving version.
    pub limits: Option<Limits>,
    /// Concurrency and retry settings of the serving version.
    pub policy: Option<PluginPolicy>,
    /// When the serving version was loaded, in milliseconds since the epoch.
    pub loaded_at_ms: Option<u64>,
    /// Whether the serving version came from the compile cache.
    pub from_cache: Option<bool>,
    /// The last load error of this file, kept while an older version serves;
    /// cleared by the next successful (or unchanged) load.
    pub error: Option<String>,
    /// What the serving version's manifest grants (names, never values).
    pub grants: Option<GrantsSummary>,
}

impl PluginEntry {
    /// Whether a working plugin serves this type.
    pub fn is_serving(&self) -> bool {
        self.version.is_some()
    }
}

/// The state of one task type.
#[derive(Debug, Clone)]
struct Slot {
    path: PathBuf,
    origin: Origin,
    loaded: Option<LoadedPlugin>,
    error: Option<String>,
}

type Snapshot = BTreeMap<String, Slot>;

struct Inner {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises read-modify-write updates so none is lost.
    update: Mutex<()>,
    generation: watch::Sender<u64>,
}

/// Task type → plugin. Cheap to clone; all clones share the same state.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.types())
            .field("generation", &self.generation())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry at generation 0.
    pub fn new() -> Self {
        Registry {
            inner: Arc::new(Inner {
                snapshot: RwLock::new(Arc::new(Snapshot::new())),
                update: Mutex::new(()),
                generation: watch::Sender::new(0),
            }),
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        let guard = self
            .inner
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// The plugin serving `task_type`, if any. The clone stays valid (and on
    /// its version) after a reload or removal.
    pub fn get(&self, task_type: &str) -> Option<Plugin> {
        self.get_loaded(task_type).map(|loaded| loaded.plugin)
    }

    /// The plugin serving `task_type` with its policy, taken from one
    /// snapshot so both belong to the same version.
    pub fn get_loaded(&self, task_type: &str) -> Option<LoadedPlugin> {
        self.snapshot().get(task_type)?.loaded.clone()
    }

    /// The task types that have a working plugin, sorted: the queues a host
    /// should lease from.
    pub fn types(&self) -> Vec<String> {
        self.snapshot()
            .iter()
            .filter(|(_, slot)| slot.loaded.is_some())
            .map(|(task_type, _)| task_type.clone())
            .collect()
    }

    /// Every file the directory knows, serving or failed, sorted by type.
    pub fn entries(&self) -> Vec<PluginEntry> {
        self.snapshot()
            .iter()
            .map(|(task_type, slot)| entry(task_type, slot))
            .collect()
    }

    /// The number of swaps so far; it changes whenever anything does.
    pub fn generation(&self) -> u64 {
        *self.inner.generation.borrow()
    }

    /// A receiver that sees every new generation, for example to refresh
    /// the leased queues with `changed().await`.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.generation.subscribe()
    }

    /// Every key with a slot, serving or not (the watcher's rescan set).
    pub(crate) fn known_types(&self) -> Vec<String> {
        self.snapshot().keys().cloned().collect()
    }

    /// The fingerprint of the serving version of `task_type`.
    pub(crate) fn fingerprint(&self, task_type: &str) -> Option<Fingerprint> {
        self.get_loaded(task_type).map(|loaded| loaded.fingerprint)
    }

    /// Where `task_type` comes from, if the registry knows it.
    pub(crate) fn origin(&self, task_type: &str) -> Option<(Origin, PathBuf)> {
        let snapshot = self.snapshot();
        let slot = snapshot.get(task_type)?;
        Some((slot.origin, slot.path.clone()))
    }

    /// Swaps in a new version of `task_type` and clears its error, unless
    /// the type comes from the other place (a file vs a push): then nothing
    /// changes and the slot already there is returned.
    pub(crate) fn install(
        &self,
        task_type: &str,
        path: PathBuf,
        origin: Origin,
        loaded: LoadedPlugin,
    ) -> Result<(), (Origin, PathBuf)> {
        let mut refused = None;
        self.update(|map| match map.get(task_type) {
            Some(slot) if !same_place(slot.origin, origin) => {
                refused = Some((slot.origin, slot.path.clone()));
            }
            _ => {
                let slot = Slot {
                    path,
                    origin,
                    loaded: Some(loaded),
                    error: None,
                };
                map.insert(task_type.to_owned(), slot);
            }
        });
        refused.map_or(Ok(()), Err)
    }

    /// Records (or with `None`, clears) the last load error of `task_type`,
    /// keeping whatever version serves it (and where it comes from).
    pub(crate) fn set_error(
        &self,
        task_type: &str,
        path: PathBuf,
        origin: Origin,
        error: Option<String>,
    ) {
        // The common case, a sync that found its plugin unchanged, changes
        // nothing: skip the copy of the whole map that `update` makes (with
        // 10,000 types, start-up's syncs spent minutes of CPU on copies).
        if error.is_none()
            && self
                .snapshot()
                .get(task_type)
                .is_none_or(|s| s.error.is_none())
        {
            return;
        }
        self.update(|map| match map.get_mut(task_type) {
            // A slot with neither a plugin nor an error says nothing.
            Some(slot) if slot.loaded.is_none() && error.is_none() => {
                map.remove(task_type);
            }
            Some(slot) => slot.error = error,
            None if error.is_some() => {
                map.insert(
                    task_type.to_owned(),
                    Slot {
                        path,
                        origin,
                        loaded: None,
                        error,
                    },
                );
            }
            None => {}
        });
    }

    /// Forgets `task_type` (its plugin and its error): it stops being
    /// served. Returns whether the registry knew it.
    pub(crate) fn remove(&self, task_type: &str) -> bool {
        let mut existed = false;
        self.update(|map| existed = map.remove(task_type).is_some());
        existed
    }

    /// Applies `change` to a copy of the snapshot and swaps it in, bumping
    /// the generation only if something changed.
    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        let _serial = self
            .inner
            .update
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot();
        let mut next = Snapshot::clone(&current);
        change(&mut next);
        if same(&current, &next) {
            return;
        }
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        self.inner
            .generation
            .send_modify(|generation| *generation += 1);
    }
}

/// Whether two origins are the same place (any two pushed versions are).
fn same_place(a: Origin, b: Origin) -> bool {
    matches!(
        (a, b),
        (Origin::Directory, Origin::Directory) | (Origin::Pushed { .. }, Origin::Pushed { .. })
    )
}

/// Whether two snapshots hold the same slots (same versions, errors, paths).
fn same(a: &Snapshot, b: &Snapshot) -> bool {
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|((ka, sa), (kb, sb))| {
            ka == kb
                && sa.path == sb.path
                && sa.origin == sb.origin
                && sa.error == sb.error
                && match (&sa.loaded, &sb.loaded) {
                    (None, None) => true,
                    (Some(x), Some(y)) => {
                        x.loaded_at == y.loaded_at && x.fingerprint == y.fingerprint
                    }
                    _ => false,
                }
        })
}

fn entry(task_type: &str, slot: &Slot) -> PluginEntry {
    let loaded = slot.loaded.as_ref();
    PluginEntry {
        task_type: task_type.to_owned(),
        path: slot.path.clone(),
        origin: slot.origin,
        version: loaded.map(|l| l.plugin.version().to_owned()),
        kind: loaded.map(|l| l.plugin.kind().to_string()),
        limits: loaded.map(|l| l.plugin.limits()),
        policy: loaded.map(|l| l.policy.clone()),
        loaded_at_ms: loaded.map(|l| millis_since_epoch(l.loaded_at)),
        from_cache: loaded.map(|l| l.plugin.from_cache()),
        error: slot.error.clone(),
        grants: loaded.map(|l| {
            l.plugin
                .manifest()
                .map(crate::config::PluginManifest::grants)
                .unwrap_or_default()
        }),
    }
}

fn millis_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
