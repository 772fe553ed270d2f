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

/// Why a plugin could not be loaded. `file` is the path (or, for
/// [`Runtime::load_bytes`](super::Runtime::load_bytes), the plugin name).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read: missing, not a regular file, too large,
    /// a symlink out of the plugins directory, or an I/O error.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file does not start with the WebAssembly magic bytes.
    #[error(
        "{file} is not a WebAssembly file (starts with {head}); a plugin must be a component built for wasm32-wasip2 or a WASI command built for wasm32-wasip1"
    )]
    NotWasm { file: String, head: String },
    /// The file is WebAssembly of an encoding version or layer this host does not know.
    #[error(
        "{file} has an unknown WebAssembly version/layer ({version}); expected a component (0d 00 01 00) or a core module (01 00 00 00)"
    )]
    UnknownEncoding { file: String, version: String },
    /// The file is truncated or malformed: wasmtime could not parse or compile it.
    #[error("{file} is not a valid WebAssembly {kind} (truncated or corrupt?): {message}")]
    Corrupt {
        file: String,
        kind: &'static str,
        message: String,
    },
    /// The component does not export the handler interface at all.
    #[error(
        "{file} does not export wasmq:plugin/handler; it was built for another world (exports: {exports}); build it with the wasmq plugin SDK"
    )]
    WrongWorld { file: String, exports: String },
    /// The component exports the handler at a version this host cannot call.
    #[error(
        "{file} was built for wasmq:plugin@{found}; this host supports {supported}; rebuild it against a matching SDK"
    )]
    IncompatibleContract {
        file: String,
        found: String,
        supported: String,
    },
    /// The handler export exists but its shape does not match the contract.
    #[error("{file} exports wasmq:plugin/handler with an unexpected shape: {message}")]
    BadExport { file: String, message: String },
    /// A core module that is not a WASI command.
    #[error(
        "core module {file} has no `{missing}` export; a core-module plugin must be a WASI command (fn main) built for wasm32-wasip1"
    )]
    MissingStart { file: String, missing: &'static str },
    /// The plugin imports something the host does not provide.
    #[error("{file} imports {what} that this host does not provide: {message}")]
    UnsatisfiedImports {
        file: String,
        what: String,
        message: String,
    },
    /// The component imports a capability its manifest does not grant.
    #[error(
        "{file} imports {import}, which its manifest does not grant: set {key} in the plugin's .toml manifest ({how})"
    )]
    Ungranted {
        file: String,
        import: String,
        key: String,
        how: String,
    },
    /// A `[secrets]` entry could not be resolved (the message names the
    /// key and its source, never a value).
    #[error("{file}: {message}")]
    Secret { file: String, message: String },
    /// The manifest next to the plugin is invalid.
    #[error(transparent)]
    BadManifest(#[from] ManifestError),
    /// The limits (after merging the manifest) are out of range.
    #[error("{file}: invalid limit: {reason}")]
    InvalidLimits { file: String, reason: InvalidLimit },
    /// The memory limit is above what this runtime's pool was sized for.
    #[error(
        "{file}: memory limit {limit} is above this host's maximum of {max}; lower `memory` in the manifest or start the host with a larger maximum"
    )]
    MemoryAboveEngine {
        file: String,
        limit: String,
        max: String,
    },
}

impl LoadError {
    /// Whether the plugin file does not exist (its manifest may be missing
    /// without error).
    pub fn is_not_found(&self) -> bool {
        matches!(self, LoadError::File(e) if e.is_not_found())
    }
}
