//! The plugin runtime: compiles plugins once, then runs each task in a
//! fresh, bounded, capability-free WebAssembly instance.
//!
//! This module knows nothing of Redis: it turns bytes and an
//! [`Invocation`] into an [`Outcome`]. Keeping it that way lets `wasmq call`
//! run a plugin with no queue at all, and lets the tests drive every sandbox
//! property directly.
//!
//! ```text
//! Runtime::new(options)          one engine, pool, epoch ticker, disk cache
//!   └ load(task_type, path, limits)   PluginFile::read + load_file
//!   └ load_file(task_type, &file, limits)  compile/cache + checks + link, of the bytes read
//!       └ Plugin::run(inv, &cancel) -> Outcome    per task: fresh Store, instance
//! ```
//!
//! Runs are async: wasm executes on a fiber stack inside the run's future,
//! and WASI is linked with its async variants, so a guest waiting in a host
//! call (a sleep, a poll) suspends its run instead of blocking a thread. The
//! worker runs each task as a tokio task (`worker/execute.rs`); thousands can
//! wait at once on a few threads. A run always ends by its deadline: the
//! epoch callback stops wasm code, and a timer drops the future of a run
//! blocked in a host call ([`Plugin::run`]).
//!
//! Capacity: the engine's pool holds `max_instances` live instances, each
//! with its fiber stack. A run that finds it full does not start and ends as
//! a retryable "host busy" outcome; the worker keeps its concurrency at or
//! below the pool.

mod cache;
mod capture;
mod classify;
mod command;
mod component;
mod component_v01;
mod contract;
mod engine;
mod error;
mod grants;
mod invocation;
mod kv;
mod kv_host;
mod outbound;
mod outbound_send;
mod outcome;
mod plugin;
mod run;
mod sandbox;
mod source;
mod tasks_host;
mod trap;

pub use command::EXIT_RETRYABLE;
pub use contract::{CONTRACT_VERSION, HANDLER_INTERFACE, PluginKind};
pub use engine::{DEFAULT_CACHE_MAX_BYTES, MAX_INSTANCES, RuntimeOptions, default_cache_dir};
pub use error::{LoadError, LoadProblem, RuntimeError};
pub use invocation::{
    CancelToken, DEFAULT_MAX_CHILD_PAYLOAD, Invocation, ProgressFeed, ProgressReports,
};
pub use kv::{KeyPage, KvBucket, KvError, KvResult, KvStore, MemoryKv, Swapped};
pub use kv_host::MAX_KEY_LEN;
pub use outcome::{Outcome, OutcomeKind};
pub use plugin::{Plugin, STOP_GRACE};
pub use source::{DEFAULT_MAX_PLUGIN_SIZE, PluginFile};

use crate::config::units::format_size;
use crate::config::{Limits, PluginManifest};
use cache::{DiskCache, load_or_compile};
use engine::EpochTicker;
use plugin::{Code, PluginInner};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::Engine;

/// The bytes to compile and their SHA-256, computed from them.
struct Source<'a> {
    bytes: &'a [u8],
    sha256: &'a str,
}

/// What the runtime and every plugin loaded from it share.
pub(crate) struct RuntimeShared {
    engine: Engine,
    cache: Option<DiskCache>,
    max_memory: u64,
    /// The store behind plugins' key-value buckets, once attached.
    kv: std::sync::OnceLock<Arc<dyn KvStore>>,
    _ticker: EpochTicker,
}

/// The plugin runtime of one host. Cheap to clone; all clones share the
/// engine, the instance pool and the cache.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<RuntimeShared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.cache_dir())
            .field("max_memory", &self.shared.max_memory)
            .finish()
    }
}

impl Runtime {
    /// Builds the engine, starts the epoch ticker and opens the disk cache.
    pub fn new(options: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let engine = engine::build_engine(&options)?;
        let cache = options
            .resolved_cache_dir()
            .map(|dir| DiskCache::open(dir, &engine, options.cache_max_bytes))
            .transpose()?;
        let ticker = EpochTicker::start(&engine, options.epoch_tick)?;
        Ok(Runtime {
            shared: Arc::new(RuntimeShared {
                engine,
                cache,
                max_memory: options.max_memory,
                kv: std::sync::OnceLock::new(),
                _ticker: ticker,
            }),
        })
    }

    /// Attaches the store behind plugins' key-value buckets (the worker's
    /// Redis store on a host, [`MemoryKv`] for `wasmq call`). Runs started
    /// before have none: their bucket calls fail with `other`. Only the
    /// first store attached counts; false if one was attached already.
    pub fn attach_kv(&self, store: Arc<dyn KvStore>) -> bool {
        self.shared.kv.set(store).is_ok()
    }

    /// The compile cache directory in use, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.shared.cache.as_ref().map(DiskCache::dir)
    }

    /// The wasmtime engine (for tools and tests that compile WAT).
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// Loads the plugin at `path` for tasks of `task_type`, applying the
    /// manifest `<task_type>.toml` next to it (if any) over `limits`. The
    /// file is read as [`PluginFile::read`] does, capped at
    /// [`DEFAULT_MAX_PLUGIN_SIZE`]; symlinks are followed (the caller named
    /// this path).
    pub fn load(&self, task_type: &str, path: &Path, limits: Limits) -> Result<Plugin, LoadError> {
        let file = PluginFile::read(path, DEFAULT_MAX_PLUGIN_SIZE, None)?;
        self.load_file(task_type, &file, limits)
    }

    /// Loads the plugin from a file already read: its bytes, under its hash,
    /// with its manifest applied over `limits`. Nothing is read from disk,
    /// so what is compiled is exactly what was hashed.
    pub fn load_file(
        &self,
        task_type: &str,
        file: &PluginFile,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        let manifest = file.manifest().cloned();
        let limits = manifest.as_ref().map_or(limits, |m| limits.merged(m));
        let origin = file.path().display().to_string();
        let source = Source {
            bytes: file.bytes(),
            sha256: file.sha256(),
        };
        self.load_checked(task_type, &origin, source, limits, manifest)
    }

    /// Loads a plugin from bytes already read from `origin`, with `limits`
    /// as final (no manifest is read: the caller has merged it). `origin`
    /// only names the plugin in errors and logs.
    pub fn load_bytes(
        &self,
        task_type: &str,
        origin: &Path,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let source = Source {
            bytes,
            sha256: &sha256,
        };
        self.load_checked(
            task_type,
            &origin.display().to_string(),
            source,
            limits,
            None,
        )
    }

    /// Prepares the code and wraps it as a [`Plugin`]; a refusal names
    /// `file`, here and only here.
    fn load_checked(
        &self,
        task_type: &str,
        file: &str,
        source: Source<'_>,
        limits: Limits,
        manifest: Option<PluginManifest>,
    ) -> Result<Plugin, LoadError> {
        let started = Instant::now();
        let (kind, code, from_cache) = self
            .prepare(task_type, &source, &limits, manifest.as_ref())
            .map_err(|problem| problem.in_file(file))?;
        let plugin = Plugin {
            inner: Arc::new(PluginInner {
                task_type: task_type.to_owned(),
                sha256: source.sha256.to_owned(),
                kind,
                limits,
                manifest,
                from_cache,
                load_time: started.elapsed(),
                code,
                runtime: Arc::clone(&self.shared),
            }),
        };
        tracing::info!(
            task_type,
            version = plugin.version(),
            %kind,
            from_cache,
            load_ms = plugin.load_time().as_millis() as u64,
            "plugin loaded"
        );
        Ok(plugin)
    }

    /// Checks the limits, then compiles (or takes from the cache), checks
    /// and links the code. Returns its kind, the code and whether it came
    /// from the cache.
    fn prepare(
        &self,
        task_type: &str,
        &Source { bytes, sha256 }: &Source<'_>,
        limits: &Limits,
        manifest: Option<&PluginManifest>,
    ) -> Result<(PluginKind, Code, bool), LoadProblem> {
        limits
            .validate()
            .map_err(|reason| LoadProblem::InvalidLimits { reason })?;
        if limits.memory > self.shared.max_memory {
            return Err(LoadProblem::MemoryAboveEngine {
                limit: format_size(limits.memory),
                max: format_size(self.shared.max_memory),
            });
        }
        let kind = contract::detect(bytes)?;
        let engine = &self.shared.engine;
        let cache = self.shared.cache.as_ref();
        let corrupt = |kind: &'static str| {
            move |e: wasmtime::Error| LoadProblem::Corrupt {
                kind,
                message: format!("{e:#}"),
            }
        };
        let (code, from_cache) = match kind {
            PluginKind::Component => {
                // Refused before a compile that can take seconds.
                let imports = grants::component_imports(bytes)?;
                grants::check_imports(imports.iter().map(String::as_str), manifest)?;
                let (component, hit) = load_or_compile(cache, engine, task_type, sha256, bytes)
                    .map_err(corrupt("component"))?;
                let contract = contract::check_component(engine, &component)?;
                let prepared =
                    component::Prepared::new(task_type, engine, &component, contract, manifest)?;
                (Code::Component(prepared), hit)
            }
            PluginKind::Command => {
                let (module, hit) = load_or_compile(cache, engine, task_type, sha256, bytes)
                    .map_err(corrupt("module"))?;
                contract::check_command(&module)?;
                (Code::Command(command::Prepared::new(engine, &module)?), hit)
            }
        };
        Ok((kind, code, from_cache))
    }
}
