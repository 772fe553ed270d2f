//! Errors of the runtime: building the engine, and loading a plugin.
//!
//! Load errors are the ones a plugin author meets first, so each names the
//! file, says what is wrong with it and, where there is one, what to do.
//! Failures *while running* a task are not errors: they are
//! [`Outcome`](super::Outcome)s, because the worker must act on each kind.

use crate::config::{FileError, InvalidLimit, ManifestError};
use std::path::PathBuf;

/// Why the runtime (engine, cache directory, epoch ticker) could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime refused the engine configuration (for example, the pooling
    /// allocator could not reserve its address space).
    #[error("cannot create the WebAssembly engine: {message}")]
    Engine { message: String },
    /// The compile cache directory could not be created.
    #[error("cannot create the compile cache directory {}: {source}; pass another --cache-dir", path.display())]
    CacheDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The epoch ticker thread could not be spawned.
    #[error("cannot start the epoch ticker thread: {0}")]
    Ticker(std::io::Error),
    /// An option is out of range.
    #[error("invalid runtime option: {0}")]
    Option(String),
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read: missing, not a regular file, too large,
    /// a symlink out of the plugins directory, or an I/O error.
    #[error(transparent)]
    File(#[from] FileError),
    /// The manifest next to the plugin is invalid.
    #[error(transparent)]
    BadManifest(#[from] ManifestError),
    /// The file was read but is not a plugin this host can run. `file` is
    /// the path (or, for [`Runtime::load_bytes`](super::Runtime::load_bytes),
    /// the origin given).
    #[error("{}", problem.describe(file))]
    Invalid { file: String, problem: LoadProblem },
}

/// What is wrong with a plugin's bytes, manifest or limits. The checks
/// return it without the file, and [`LoadProblem::in_file`] names the file,
/// once, where the load is driven.
#[derive(Debug)]
pub enum LoadProblem {
    /// The file does not start with the WebAssembly magic bytes.
    NotWasm { head: String },
    /// The file is WebAssembly of an encoding version or layer this host does not know.
    UnknownEncoding { version: String },
    /// The file is truncated or malformed: wasmtime could not parse or compile it.
    Corrupt { kind: &'static str, message: String },
    /// The component does not export the handler interface at all.
    WrongWorld { exports: String },
    /// The component exports the handler at a version this host cannot call.
    IncompatibleContract { found: String, supported: String },
    /// The handler export exists but its shape does not match the contract.
    BadExport { message: String },
    /// A core module that is not a WASI command.
    MissingStart { missing: &'static str },
    /// The plugin imports something the host does not provide.
    UnsatisfiedImports { what: String, message: String },
    /// The component imports a capability its manifest does not grant.
    Ungranted {
        import: String,
        key: String,
        how: String,
    },
    /// A `[secrets]` entry could not be resolved (the message names the
    /// key and its source, never a value).
    Secret { message: String },
    /// The limits (after merging the manifest) are out of range.
    InvalidLimits { reason: InvalidLimit },
    /// The memory limit is above what this runtime's pool was sized for.
    MemoryAboveEngine { limit: String, max: String },
}

impl LoadProblem {
    /// The load error for this problem in `file`.
    pub fn in_file(self, file: &str) -> LoadError {
        LoadError::Invalid {
            file: file.to_owned(),
            problem: self,
        }
    }

    /// The message for this problem in `file`: what is wrong and, where
    /// there is one, what to do.
    fn describe(&self, file: &str) -> String {
        match self {
            LoadProblem::NotWasm { head } => format!(
                "{file} is not a WebAssembly file (starts with {head}); a plugin must be a component built for wasm32-wasip2 or a WASI command built for wasm32-wasip1"
            ),
            LoadProblem::UnknownEncoding { version } => format!(
                "{file} has an unknown WebAssembly version/layer ({version}); expected a component (0d 00 01 00) or a core module (01 00 00 00)"
            ),
            LoadProblem::Corrupt { kind, message } => format!(
                "{file} is not a valid WebAssembly {kind} (truncated or corrupt?): {message}"
            ),
            LoadProblem::WrongWorld { exports } => format!(
                "{file} does not export wasmq:plugin/handler; it was built for another world (exports: {exports}); build it with the wasmq plugin SDK"
            ),
            LoadProblem::IncompatibleContract { found, supported } => format!(
                "{file} was built for wasmq:plugin@{found}; this host supports {supported}; rebuild it against a matching SDK"
            ),
            LoadProblem::BadExport { message } => {
                format!("{file} exports wasmq:plugin/handler with an unexpected shape: {message}")
            }
            LoadProblem::MissingStart { missing } => format!(
                "core module {file} has no `{missing}` export; a core-module plugin must be a WASI command (fn main) built for wasm32-wasip1"
            ),
            LoadProblem::UnsatisfiedImports { what, message } => {
                format!("{file} imports {what} that this host does not provide: {message}")
            }
            LoadProblem::Ungranted { import, key, how } => format!(
                "{file} imports {import}, which its manifest does not grant: set {key} in the plugin's .toml manifest ({how})"
            ),
            LoadProblem::Secret { message } => format!("{file}: {message}"),
            LoadProblem::InvalidLimits { reason } => format!("{file}: invalid limit: {reason}"),
            LoadProblem::MemoryAboveEngine { limit, max } => format!(
                "{file}: memory limit {limit} is above this host's maximum of {max}; lower `memory` in the manifest or start the host with a larger maximum"
            ),
        }
    }
}

impl LoadError {
    /// Whether the plugin file does not exist (its manifest may be missing
    /// without error).
    pub fn is_not_found(&self) -> bool {
        matches!(self, LoadError::File(e) if e.is_not_found())
    }

    /// What is wrong with the plugin, when it was read but refused.
    pub fn problem(&self) -> Option<&LoadProblem> {
        match self {
            LoadError::Invalid { problem, .. } => Some(problem),
            LoadError::File(_) | LoadError::BadManifest(_) => None,
        }
    }
}
