//! The plugin directory: which WebAssembly plugin handles each task type.
//!
//! A host serves exactly the task types that have a working plugin in its
//! plugins directory, as `<type>.wasm` with an optional `<type>.toml`
//! manifest, or pushed to Redis (`wasmq plugins push`; the worker fetches
//! those and `pushed.rs` loads them the same way). A type comes from one of
//! the two places only ([`Origin`]). Operators deploy a plugin by copying it in, upgrade it by
//! replacing it, and retire it by deleting it, all without restarting the
//! host, so this module is built around three guarantees:
//!
//! * **A bad file never takes anything down.** A corrupt module, a manifest
//!   typo or an oversized file is reported (log, metric, [`PluginEntry`]) and
//!   the previous version, if any, keeps serving.
//! * **Running tasks are never disturbed.** [`Registry::get`] hands out a
//!   clone of the plugin; a swap only affects tasks that start after it.
//! * **The registry converges on the directory.** Every change, however it
//!   is made, ends with a [`PluginDir::sync`] of the type, which compares
//!   what is on disk (by content hash) with what serves.
//! * **Nothing in the directory can hang or exhaust the host.** A FIFO,
//!   device or directory named `<type>.wasm` or `<type>.toml` is refused
//!   without being opened for a blocking read; plugins and manifests are
//!   read once, up to a cap, and the bytes hashed are the bytes compiled.
//!
//! Symlink policy: a `<type>.wasm` or `<type>.toml` may be a symlink only if
//! its fully resolved target lies inside the (resolved) plugins directory,
//! so `echo.wasm -> releases/echo-3.wasm` and the `..data/` links of a
//! Kubernetes volume work, while `echo.wasm -> ../elsewhere/echo.wasm` is
//! refused with an error naming the link, its target and the directory. A
//! link to a file outside would let whoever controls that file (or a path
//! through it) change what the host runs without touching the directory
//! the operator watches. A dangling link is an error, not an absent plugin.
//!
//! | file | role |
//! |---|---|
//! | `name.rs` | which files are plugins; task type validation |
//! | `registry.rs` | [`Registry`]: the served plugins, snapshot-swapped |
//! | `policy.rs` | [`PluginPolicy`]: the manifest's worker settings |
//! | `pushed.rs` | [`PushedPlugin`]: versions pushed to Redis, loaded like files |
//! | `loader.rs` | [`PluginDir`]: reading, hashing, compiling, the scan |
//! | `debounce.rs` | per-type debouncing of file events |
//! | `watcher.rs` | [`spawn_watcher`]: `notify` events to syncs |
//! | `error.rs` | [`PluginDirError`] (fatal) and [`LoadFailure`] (one file) |
//!
//! Typical wiring:
//!
//! ```no_run
//! # async fn wire(runtime: wasmq::runtime::Runtime) -> anyhow::Result<()> {
//! use wasmq::config::Limits;
//! use wasmq::plugins::{PluginDir, Registry, spawn_watcher};
//! let plugins = PluginDir::open("plugins", runtime, Limits::default())?;
//! let registry = Registry::new();
//! let report = plugins.scan(&registry).await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let watcher = spawn_watcher(registry.clone(), plugins, shutdown.clone())?;
//! // ... serve registry.types(), re-reading on registry.subscribe().changed()
//! shutdown.cancel();
//! watcher.await?;
//! # Ok(()) }
//! ```

mod debounce;
mod error;
mod loader;
mod name;
mod policy;
mod pushed;
mod registry;
mod watcher;

pub use error::{LoadFailure, PluginDirError};
pub use loader::{DEFAULT_MAX_FILE_SIZE, PluginDir, ScanReport, SyncOutcome};
pub use name::{MAX_TYPE_LEN, validate_task_type};
pub use pushed::PushedPlugin;
pub use registry::{LoadedPlugin, Origin, PluginEntry, PluginPolicy, Registry};
pub use watcher::{DEBOUNCE, spawn_watcher};
