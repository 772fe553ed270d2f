//! Errors of the plugin directory.
//!
//! Two kinds, because they are handled differently: a [`PluginDirError`]
//! stops the host from starting (the directory is missing, cannot be listed
//! or watched), while a [`LoadFailure`] concerns one file only. It is
//! logged, counted and shown in the registry's entries, and the other
//! plugins (and the previous version of this one) keep serving.

use crate::runtime::LoadError;
use std::path::PathBuf;

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
    /// The background compile task panicked or was cancelled.
    #[error("loading {} did not finish: {message}", path.display())]
    Interrupted {
        /// The plugin file.
        path: PathBuf,
        /// The join error.
        message: String,
    },
}
