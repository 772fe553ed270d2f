//! Following the plugins pushed to Redis: the join between the broker's
//! plugin store and the plugin directory's loader.
//!
//! At start ([`PushedPlugins::start`]) a host reads the board of pushed
//! types and refuses to start if one of them is also a file in its plugins
//! directory, naming both: it would otherwise serve whichever loaded last,
//! and two hosts could serve different code for one type. Then it loads the
//! current version of every pushed type, as the directory scan loads files.
//!
//! Afterwards ([`PushedPlugins::spawn`]) it re-reads the board on every
//! push or rollback notice and, in case a notice was lost (pub/sub is
//! fire-and-forget), every [`CHECK_EVERY`]: one `HGETALL` per period,
//! whatever the number of types. A type whose pointer moved is downloaded
//! (checked against its size and SHA-256), compiled into the compile cache
//! and swapped in by [`PluginDir::install_pushed`], exactly as a changed
//! file. A type removed with `wasmq plugins remove` (version 0 on the
//! board) is dropped from the registry, as a deleted file is. A version that fails there is not tried again until the pointer
//! moves; a Redis failure is retried on the next check. Failures on the
//! Redis side are logged and counted in
//! `wasmq_plugin_sync_errors_total{task_type}`; load failures as a file's
//! are (`wasmq_plugin_load_failures_total`), and the old version serves.

use crate::broker::{BoardEntry, Client, PluginStoreError, Subscription};
use crate::plugins::{Origin, PluginDir, PushedPlugin, Registry, SyncOutcome};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, warn};

/// How often a host reads the board even without a notice.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// A host cannot start with the plugins pushed to Redis.
#[derive(Debug, thiserror::Error)]
pub enum PushedStartError {
    /// A task type is both a file in the plugins directory and pushed.
    #[error(
        "task type `{task_type}` is both the file {} in the plugins directory and pushed to Redis \
         (version {version}; see `wasmq plugins history {task_type}`); a host takes each type from \
         one place: delete the file, or start this host with another --plugins directory",
        file.display()
    )]
    Conflict {
        /// The task type.
        task_type: String,
        /// Its file.
        file: std::path::PathBuf,
        /// The pushed version that is current.
        version: u64,
    },
    /// The plugins directory could not be listed.
    #[error(transparent)]
    Dir(#[from] crate::plugins::PluginDirError),
    /// Redis failed while reading the pushed plugins.
    #[error("cannot read the plugins pushed to Redis: {0}")]
    Store(#[from] PluginStoreError),
}

/// The pushed plugins a host follows, and what it has seen of each.
pub struct PushedPlugins {
    client: Client,
    plugins: PluginDir,
    registry: Registry,
    /// The board's move count of each type when this host last acted on it.
    seen: HashMap<String, u64>,
}

impl std::fmt::Debug for PushedPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushedPlugins")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl PushedPlugins {
    /// Follows the plugins pushed through `client` into `registry`, loading
    /// them with `plugins` (its runtime, limits, grants and size cap).
    pub fn new(client: Client, plugins: PluginDir, registry: Registry) -> PushedPlugins {
        PushedPlugins {
            client,
            plugins,
            registry,
            seen: HashMap::new(),
        }
    }

    /// Refuses a type both on disk and pushed, then loads every pushed
    /// type. Call it after the directory scan, before serving.
    pub async fn start(&mut self) -> Result<(), PushedStartError> {
        let board = self.client.plugin_board().await?;
        let on_disk = self.plugins.task_types_on_disk().await?;
        let conflict = board
            .iter()
            .find(|(t, e)| !e.is_removed() && on_disk.contains(*t));
        if let Some((task_type, entry)) = conflict {
            return Err(PushedStartError::Conflict {
                task_type: task_type.clone(),
                file: self.plugins.path().join(format!("{task_type}.wasm")),
                version: entry.version,
            });
        }
        for (task_type, entry) in board {
            if entry.is_removed() {
                self.seen.insert(task_type, entry.moves);
            } else {
                self.sync(&task_type, &entry).await?;
            }
        }
        Ok(())
    }

    /// Follows pushes and rollbacks until `stop` is cancelled.
    pub fn spawn(self, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(stop))
    }

    async fn run(mut self, stop: CancellationToken) {
        let mut notices: Option<Subscription> = None;
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    // (Re)subscribe first, so a push from now on is heard.
                    if notices.is_none() {
                        notices = match self.client.plugin_subscription().await {
                            Ok(subscription) => Some(subscription),
                            Err(e) => {
                                warn!(error = %e, "cannot subscribe to plugin push notices; checking every {CHECK_EVERY:?} only");
                                None
                            }
                        };
                    }
                    self.check().await;
                }
                notice = next_notice(&mut notices) => match notice {
                    Some(task_type) => {
                        debug!(task_type, "plugin push notice");
                        self.check().await;
                    }
                    None => notices = None,
                },
            }
        }
    }

    /// Reads the board and syncs every type whose pointer moved.
    async fn check(&mut self) {
        let board = match self.client.plugin_board().await {
            Ok(board) => board,
            Err(e) => {
                warn!(error = %e, "cannot read the board of pushed plugins; trying again in {CHECK_EVERY:?}");
                metrics::counter!("wasmq_plugin_sync_errors_total", "task_type" => "*")
                    .increment(1);
                return;
            }
        };
        let known = |task_type: &str| self.registry.origin(task_type).is_some();
        for (task_type, entry) in changed(&board, &self.seen, known) {
            if let Err(e) = self.sync(&task_type, &entry).await {
                warn!(task_type, error = %e, "cannot fetch the pushed plugin; the version serving now keeps serving, trying again in {CHECK_EVERY:?}");
                metrics::counter!("wasmq_plugin_sync_errors_total", "task_type" => task_type.clone())
                    .increment(1);
            }
        }
    }

    /// Loads the current version of `task_type`. A Redis failure returns
    /// an error (retried next check); anything else is settled here.
    #[instrument(skip_all, fields(task_type = %task_type))]
    async fn sync(&mut self, task_type: &str, entry: &BoardEntry) -> Result<(), PluginStoreError> {
        let current = match self.client.plugin_current(task_type).await {
            Ok(Some(current)) => current,
            Ok(None) => {
                // Removed (`wasmq plugins remove`): stop serving it, unless
                // the plugins directory serves the type now.
                if let Some((Origin::Pushed { version }, _)) = self.registry.origin(task_type)
                    && self.registry.remove(task_type)
                {
                    info!(
                        pushed_version = version,
                        "the pushed plugin was removed; no longer serving it"
                    );
                }
                self.seen.insert(task_type.to_owned(), entry.moves);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let max = self.plugins.max_file_size();
        let bytes = if current.size > max {
            Err(PluginStoreError::Refused(format!(
                "version {} is {} bytes, more than the {max} this host loads",
                current.version, current.size
            )))
        } else {
            self.client.plugin_download(task_type, &current).await
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(PluginStoreError::Broker(e)) => return Err(PluginStoreError::Broker(e)),
            Err(e) => {
                // Damaged or oversized: shown as the type's error, and not
                // tried again until the pointer moves.
                let path = format!("pushed:{task_type}@v{}", current.version).into();
                let origin = Origin::Pushed {
                    version: current.version,
                };
                self.registry
                    .set_error(task_type, path, origin, Some(e.to_string()));
                self.seen.insert(task_type.to_owned(), entry.moves);
                return Err(e);
            }
        };
        let pushed = PushedPlugin {
            task_type: task_type.to_owned(),
            version: current.version,
            bytes,
            manifest: current.manifest.clone(),
            file: None,
        };
        match self.plugins.install_pushed(&self.registry, pushed).await {
            SyncOutcome::Loaded { version } => {
                info!(
                    pushed_version = current.version,
                    sha = version,
                    "serving the pushed plugin"
                )
            }
            SyncOutcome::Failed(_) | SyncOutcome::Unchanged => {}
            SyncOutcome::Removed | SyncOutcome::Absent => {}
        }
        self.seen.insert(task_type.to_owned(), entry.moves);
        Ok(())
    }
}

/// The board's entries whose pointer moved since `seen`, and those the
/// registry does not know (any more) unless removed: a push refused while
/// the directory served the type is loaded once the file is gone.
fn changed(
    board: &BTreeMap<String, BoardEntry>,
    seen: &HashMap<String, u64>,
    known: impl Fn(&str) -> bool,
) -> Vec<(String, BoardEntry)> {
    board
        .iter()
        .filter(|(task_type, entry)| {
            seen.get(*task_type) != Some(&entry.moves) || (!entry.is_removed() && !known(task_type))
        })
        .map(|(task_type, entry)| (task_type.clone(), entry.clone()))
        .collect()
}

/// The next notice, or never while there is no subscription.
async fn next_notice(notices: &mut Option<Subscription>) -> Option<String> {
    match notices {
        Some(subscription) => subscription.next_notice().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(moves: u64) -> BoardEntry {
        BoardEntry {
            moves,
            version: moves,
            sha256: "ab".into(),
        }
    }

    #[test]
    fn only_moved_pointers_are_synced() {
        let board: BTreeMap<String, BoardEntry> = [
            ("a".into(), entry(1)),
            ("b".into(), entry(4)),
            ("c".into(), entry(2)),
            (
                "gone".into(),
                BoardEntry {
                    moves: 5,
                    version: 0,
                    sha256: String::new(),
                },
            ),
        ]
        .into();
        let seen: HashMap<String, u64> =
            [("a".into(), 1), ("b".into(), 3), ("gone".into(), 5)].into();
        let names = |known: &dyn Fn(&str) -> bool| -> Vec<String> {
            changed(&board, &seen, known)
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        };
        assert_eq!(names(&|_| true), ["b", "c"]);
        assert_eq!(names(&|t| t != "a"), ["a", "b", "c"]);
        // A removal seen once is not synced again, though nothing serves it.
        assert_eq!(names(&|t| t != "gone"), ["b", "c"]);
    }
}
