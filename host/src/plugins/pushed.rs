//! Plugins pushed to Redis, loaded and swapped in exactly as a file is.
//!
//! This module knows no Redis: the worker reads a pushed version from the
//! broker (`wasmq plugins push` stores it) and hands over its bytes, its
//! manifest text and its version number as a [`PushedPlugin`].
//! [`PluginDir::install_pushed`] then takes the steps a changed file takes
//! in [`PluginDir::sync`]: the name check, the manifest parsed by the same
//! parser, the grants given to the host, the compile (or the compile cache,
//! keyed by the module's SHA-256) under the same bound on parallel loads,
//! and the swap, after which new tasks run the new version and running ones
//! finish on theirs. `wasmq plugins push` runs the same function on an
//! empty registry to refuse, before Redis, what no host would load.
//!
//! A host takes each task type from one place. A push for a type whose
//! file is in the plugins directory is refused here (and a file for a
//! pushed type is refused by `sync`), whichever came first keeps serving,
//! and the refusal is logged, counted in
//! `wasmq_plugin_load_failures_total{task_type}` and shown as the type's
//! error, naming both places. A version that fails to load leaves the
//! previous one serving, like a broken file.

use super::error::{LoadFailure, place};
use super::loader::{PluginDir, SyncOutcome};
use super::name::validate_task_type;
use super::registry::{Fingerprint, LoadedPlugin, Origin, PluginPolicy, Registry};
use crate::config::PluginManifest;
use crate::runtime::{LoadError, PluginFile};
use std::path::PathBuf;
use std::time::SystemTime;
use tracing::{info, instrument, warn};

/// One version of a plugin as pushed: what the broker stores for it.
#[derive(Clone)]
pub struct PushedPlugin {
    /// The task type it serves.
    pub task_type: String,
    /// Its version number.
    pub version: u64,
    /// The module.
    pub bytes: Vec<u8>,
    /// The text of the `<type>.toml` pushed with it, if any.
    pub manifest: Option<String>,
    /// The file it was read from, when there is one (`wasmq plugins push`
    /// checks it before pushing): messages name it and its manifest.
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for PushedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushedPlugin")
            .field("task_type", &self.task_type)
            .field("version", &self.version)
            .field("len", &self.bytes.len())
            .field("manifest", &self.manifest.is_some())
            .field("file", &self.file)
            .finish()
    }
}

impl PushedPlugin {
    /// The name the version goes by in messages and listings: its file, or
    /// else `pushed:<type>@v<version>`.
    pub fn origin_path(&self) -> PathBuf {
        self.file.clone().unwrap_or_else(|| {
            PathBuf::from(format!("pushed:{}@v{}", self.task_type, self.version))
        })
    }

    /// Where its manifest came from, for messages: `<type>.toml` beside
    /// its file, or under its pushed name.
    fn manifest_path(&self) -> PathBuf {
        let name = format!("{}.toml", self.task_type);
        match &self.file {
            Some(file) => file.with_file_name(name),
            None => self.origin_path().join(name),
        }
    }
}

impl PluginDir {
    /// Loads `pushed` and swaps it in for its task type, unless the type is
    /// served from the plugins directory. A failure is logged, counted and
    /// recorded as the type's error; whatever served before keeps serving.
    #[instrument(skip_all, fields(task_type = %pushed.task_type, version = pushed.version))]
    pub async fn install_pushed(&self, registry: &Registry, pushed: PushedPlugin) -> SyncOutcome {
        let (task_type, path) = (pushed.task_type.clone(), pushed.origin_path());
        let origin = Origin::Pushed {
            version: pushed.version,
        };
        match self.try_install_pushed(registry, pushed).await {
            Ok(outcome) => outcome,
            Err(failure) => {
                warn!(
                    error = %failure,
                    "pushed plugin not loaded; the previously loaded version (if any) keeps serving"
                );
                metrics::counter!("wasmq_plugin_load_failures_total", "task_type" => task_type.clone())
                    .increment(1);
                registry.set_error(&task_type, path, origin, Some(failure.to_string()));
                SyncOutcome::Failed(failure)
            }
        }
    }

    async fn try_install_pushed(
        &self,
        registry: &Registry,
        pushed: PushedPlugin,
    ) -> Result<SyncOutcome, LoadFailure> {
        let path = pushed.origin_path();
        let task_type = pushed.task_type.as_str();
        let origin = Origin::Pushed {
            version: pushed.version,
        };
        let conflict = |existing: (Origin, PathBuf)| {
            LoadFailure::conflict(task_type, (existing.0, &existing.1), (origin, &path))
        };
        validate_task_type(task_type).map_err(|reason| LoadFailure::InvalidName {
            path: path.clone(),
            reason,
        })?;
        if let Some(existing @ (Origin::Directory, _)) = registry.origin(task_type) {
            return Err(conflict(existing));
        }
        let manifest_path = pushed.manifest_path();
        let manifest = pushed
            .manifest
            .as_deref()
            .map(|text| PluginManifest::parse(text, &manifest_path))
            .transpose()
            .map_err(LoadError::from)?;
        let file = PluginFile::new(&path, pushed.bytes, manifest);
        let file = self.add_grants(task_type, file)?;
        let fingerprint = Fingerprint {
            wasm_sha256: file.sha256().to_owned(),
            manifest: file.manifest().cloned(),
        };
        let serving = registry.get_loaded(task_type);
        // The same module and manifest under another number (a rollback to
        // an equal version): only the number changes, nothing is compiled.
        if let Some(loaded) = serving.filter(|l| l.fingerprint == fingerprint) {
            let renumbered = registry.origin(task_type).map(|o| o.0) != Some(origin);
            registry
                .install(task_type, path.clone(), origin, loaded)
                .map_err(conflict)?;
            return Ok(if renumbered {
                info!("pushed plugin renumbered; its code is unchanged");
                SyncOutcome::Loaded {
                    version: fingerprint.wasm_sha256[..12].to_owned(),
                }
            } else {
                SyncOutcome::Unchanged
            });
        }
        let plugin = self.compile_bounded(task_type, file).await?;
        let version = plugin.version().to_owned();
        let loaded = LoadedPlugin {
            policy: PluginPolicy::from_manifest(plugin.manifest()),
            plugin,
            loaded_at: SystemTime::now(),
            fingerprint,
        };
        registry
            .install(task_type, path.clone(), origin, loaded)
            .map_err(conflict)?;
        info!(
            from = %place(task_type, origin, &path),
            sha = %version,
            "pushed plugin swapped in"
        );
        metrics::counter!("wasmq_plugin_reloads_total", "task_type" => task_type.to_owned())
            .increment(1);
        Ok(SyncOutcome::Loaded { version })
    }
}
