//! Errors of the plugin directory.
//!
//! Two kinds, because they are handled differently: a [`PluginDirError`]
//! stops the host from starting (the directory is missing, cannot be listed
//! or watched), while a [`LoadFailure`] concerns one file only. It is
//! logged, counted and shown in the registry's entries, and the other
//! plugins (and the previous version of this one) keep serving.

use super::registry::Origin;
use crate::runtime::LoadError;
use std::path::{Path, PathBuf};

/// The plugins directory itself is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PluginDirError {
    /// The directory does not exist.
    #[error("plugins directory {} does not exist; create it or pass --plugins", path.display())]
    Missing {
        /// The directory as given.
        path: PathBuf,
    },
    /// The path exists but is a file (or something else).
    #[error("plugins directory {} is not a directory; pass the directory that holds the .wasm files with --plugins", path.display())]
    NotADirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// The directory could not be listed (permissions, I/O error).
    #[error("cannot list plugins directory {}: {source}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file-system watcher could not be set up (for example the inotify
    /// watch limit is reached).
    #[error(
        "cannot watch plugins directory {} for changes: {source}; on Linux, raise fs.inotify.max_user_watches / max_user_instances",
        path.display()
    )]
    Watch {
        /// The directory.
        path: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
}

/// Why one plugin file could not be (re)loaded. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailure {
    /// `<stem>.wasm` has a stem that is not a valid task type.
    #[error("{}: {reason}; rename the file", path.display())]
    InvalidName {
        /// The plugin file.
        path: PathBuf,
        /// What is wrong with the name.
        reason: String,
    },
    /// The file or its manifest could not be read (missing, not a regular
    /// file, too large, a symlink out of the directory), the manifest is
    /// invalid, or the runtime refused the module (not WebAssembly, wrong
    /// contract, ...).
    #[error(transparent)]
    Runtime(#[from] LoadError),
    /// The type is served from one place (a file, or a push to Redis) and a
    /// plugin for it came from the other.
    #[error(
        "task type `{task_type}` is both {existing} and {newcomer}; a host takes each type from \
         one place, so it keeps serving the first and refuses the second: delete the file, or \
         push the plugin under another type"
    )]
    Conflict {
        /// The task type.
        task_type: String,
        /// Where the serving plugin comes from.
        existing: String,
        /// Where the refused one comes from.
        newcomer: String,
    },
    /// The background compile task panicked or was cancelled.
    #[error("loading {} did not finish: {message}", path.display())]
    Interrupted {
        /// The plugin file.
        path: PathBuf,
        /// The join error.
        message: String,
    },
}

impl LoadFailure {
    /// A [`LoadFailure::Conflict`]: `task_type` comes from `existing` (at
    /// `path`), and a plugin from `newcomer` (at `new_path`) was refused.
    pub(crate) fn conflict(
        task_type: &str,
        (existing, path): (Origin, &Path),
        (newcomer, new_path): (Origin, &Path),
    ) -> LoadFailure {
        LoadFailure::Conflict {
            task_type: task_type.to_owned(),
            existing: place(task_type, existing, path),
            newcomer: place(task_type, newcomer, new_path),
        }
    }
}

/// Where a plugin comes from, in words.
pub(crate) fn place(task_type: &str, origin: Origin, path: &Path) -> String {
    match origin {
        Origin::Directory => format!("the file {} in the plugins directory", path.display()),
        Origin::Pushed { version } => {
            format!("pushed to Redis (version {version}; see `wasmq plugins history {task_type}`)")
        }
    }
}
