//! Watching the plugins directory and reloading what changes.
//!
//! `notify` delivers raw file-system events on its own thread; they are
//! forwarded to a tokio task that maps each path to its task type (both
//! `<type>.wasm` and `<type>.toml` map to `<type>`), debounces them, and
//! then calls [`PluginDir::sync`] for the type. Because `sync` looks at what
//! is on disk rather than at the event kind, every way of changing a file
//! (an atomic `mv tmp echo.wasm`, an in-place `cp`, an editor's save, a
//! delete) ends the same way: the registry matches the directory.
//!
//! The watch is set up before the task re-scans the directory once, so a
//! file changed between the initial scan and the watch is not missed. If the
//! watcher reports lost events (queue overflow), the whole directory is
//! re-scanned. If the directory itself disappears, the loaded plugins keep
//! serving and the watcher retries until the directory is back.

use super::debounce::Debouncer;
use super::error::PluginDirError;
use super::loader::PluginDir;
use super::name::{FileRole, classify};
use super::registry::Registry;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// How long a task type must be quiet before it is reloaded.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// How often the watcher retries when the directory has disappeared.
const REWATCH_EVERY: Duration = Duration::from_secs(2);

type Events = mpsc::UnboundedReceiver<notify::Result<notify::Event>>;

/// Starts watching `plugins` and keeping `registry` in sync with it until
/// `shutdown` is cancelled. Call it after the initial
/// [`PluginDir::scan`]; it re-scans once itself to catch changes made in
/// between. On shutdown, loads in progress are abandoned (the registry keeps
/// what it had) and the returned task ends.
pub fn spawn_watcher(
    registry: Registry,
    plugins: PluginDir,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, PluginDirError> {
    let (events_tx, events) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiver is gone only when the task ended; nothing to do then.
        let _ = events_tx.send(event);
    })
    .map_err(|source| watch_error(plugins.path(), source))?;
    watcher
        .watch(plugins.path(), RecursiveMode::NonRecursive)
        .map_err(|source| watch_error(plugins.path(), source))?;
    info!(dir = %plugins.path().display(), "watching the plugins directory for changes");
    let task = WatchTask {
        registry,
        plugins,
        watcher,
        debouncer: Debouncer::new(DEBOUNCE),
        loads: JoinSet::new(),
        running: HashMap::new(),
        lost_dir: false,
    };
    Ok(tokio::spawn(task.run(events, shutdown)))
}

fn watch_error(path: &Path, source: notify::Error) -> PluginDirError {
    PluginDirError::Watch {
        path: path.to_owned(),
        source,
    }
}

struct WatchTask {
    registry: Registry,
    plugins: PluginDir,
    /// Kept alive for as long as the task runs: dropping it stops the events.
    watcher: RecommendedWatcher,
    debouncer: Debouncer<String>,
    loads: JoinSet<()>,
    /// The task type of each running load, to release it even on a panic.
    running: HashMap<tokio::task::Id, String>,
    /// The directory disappeared and must be watched again once it is back.
    lost_dir: bool,
}

impl WatchTask {
    async fn run(mut self, mut events: Events, shutdown: CancellationToken) {
        self.rescan().await;
        let mut rewatch = tokio::time::interval(REWATCH_EVERY);
        rewatch.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.debouncer.next_deadline();
            tokio::select! {
                () = shutdown.cancelled() => break,
                event = events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => break,
                },
                Some(done) = self.loads.join_next_with_id() => self.on_load_done(done),
                () = sleep_until(deadline), if deadline.is_some() => self.start_due(),
                _ = rewatch.tick(), if self.lost_dir => self.try_rewatch().await,
            }
        }
        self.loads.abort_all();
        while self.loads.join_next().await.is_some() {}
        info!(dir = %self.plugins.path().display(), "stopped watching the plugins directory");
    }

    async fn on_event(&mut self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                warn!(dir = %self.plugins.path().display(), error = %e, "plugin watcher error; re-scanning the directory");
                return self.rescan().await;
            }
        };
        if event.need_rescan() {
            warn!(dir = %self.plugins.path().display(), "plugin watcher lost events; re-scanning the directory");
            return self.rescan().await;
        }
        // Reads (including the loader's own, when it hashes a file) change
        // nothing; reacting to them would re-sync every plugin forever.
        // A close after writing still counts: it marks the end of a copy.
        use notify::event::{AccessKind, AccessMode, EventKind};
        if matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write))
        {
            return;
        }
        let now = Instant::now().into_std();
        for path in &event.paths {
            if path == self.plugins.path() || !self.plugins.path().exists() {
                self.on_dir_event(&event);
                continue;
            }
            match classify(path) {
                FileRole::Wasm(task_type) | FileRole::Manifest(task_type) => {
                    self.debouncer.note(task_type, now)
                }
                FileRole::InvalidName { stem, .. } if path.extension() == Some("wasm".as_ref()) => {
                    self.debouncer.note(stem, now)
                }
                FileRole::InvalidName { .. } | FileRole::Ignored => {
                    debug!(file = %path.display(), "ignoring a change to a file that is not <type>.wasm or <type>.toml")
                }
            }
        }
    }

    /// The directory itself was removed or moved away: its types are
    /// synced (and so removed), and it is watched again once it is back.
    fn on_dir_event(&mut self, event: &notify::Event) {
        if !self.lost_dir && !self.plugins.path().is_dir() {
            error!(
                dir = %self.plugins.path().display(),
                kind = ?event.kind,
                "the plugins directory is gone; its task types are removed (their tasks wait) and the watcher waits for the directory to come back"
            );
            self.lost_dir = true;
            let now = Instant::now().into_std();
            for task_type in self.registry.known_types() {
                self.debouncer.note(task_type, now);
            }
        }
    }

    async fn try_rewatch(&mut self) {
        if !self.plugins.path().is_dir() {
            return;
        }
        match self
            .watcher
            .watch(self.plugins.path(), RecursiveMode::NonRecursive)
        {
            Ok(()) => {
                info!(dir = %self.plugins.path().display(), "the plugins directory is back; re-scanning it");
                self.lost_dir = false;
                self.rescan().await;
            }
            Err(e) => {
                warn!(dir = %self.plugins.path().display(), error = %e, "cannot watch the plugins directory yet")
            }
        }
    }

    /// Queues every type on disk or in the registry for a sync.
    async fn rescan(&mut self) {
        let now = Instant::now().into_std();
        let mut task_types = match self.plugins.task_types_on_disk().await {
            Ok(task_types) => task_types,
            Err(e) => {
                warn!(error = %e, "cannot re-scan the plugins directory");
                Default::default()
            }
        };
        task_types.extend(self.registry.known_types());
        for task_type in task_types {
            self.debouncer.note(task_type, now);
        }
    }

    fn start_due(&mut self) {
        for task_type in self.debouncer.start_due(Instant::now().into_std()) {
            let (plugins, registry) = (self.plugins.clone(), self.registry.clone());
            let key = task_type.clone();
            let handle = self.loads.spawn(async move {
                plugins.sync(&registry, &key).await;
            });
            self.running.insert(handle.id(), task_type);
        }
    }

    fn on_load_done(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let id = match done {
            Ok((id, ())) => id,
            Err(e) => {
                error!(error = %e, "a plugin load task failed; the type will be retried on its next change");
                e.id()
            }
        };
        if let Some(task_type) = self.running.remove(&id) {
            self.debouncer.finish(&task_type);
        }
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(Instant::from_std(deadline)).await;
    }
}
