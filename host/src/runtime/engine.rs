//! The one `wasmtime::Engine` of a host, and the thread that ticks its epoch.
//!
//! One engine per host because compiled code, the instance pool and the
//! epoch counter all belong to an engine: sharing it is what makes a
//! per-task instantiation cost microseconds instead of a compile.
//!
//! * Pooling allocator: instance, memory and table slots are reserved once;
//!   instantiating a task takes a slot instead of calling `mmap`.
//! * Copy-on-write memory images: a plugin's data segments are mapped, not
//!   copied, into each new instance.
//! * Fuel: a deterministic bound on computation.
//! * Epoch interruption: a ticker thread bumps the epoch every few
//!   milliseconds; each store's callback then checks its deadline and its
//!   cancel flag, so even `loop {}` is stopped by wall-clock time, and
//!   otherwise yields to the async executor, so a CPU-bound guest shares its
//!   thread with the other runs.
//! * Async stacks: every run executes on a fiber stack taken from the pool
//!   (`total_stacks`), so a run blocked in a host call holds a stack, not an
//!   OS thread. The pool is sized from the host's concurrency, and a pool the
//!   machine's address space cannot hold is refused with the figures.

use super::error::RuntimeError;
use crate::config::Limits;
use crate::config::units::format_size_exact;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, WasmBacktraceDetails,
};

/// The default bound of the disk cache: room for dozens of JavaScript or
/// Python artifacts (40-60 MB each) and hundreds of Rust ones.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 2 << 30;

/// Most plugin instances one runtime's pool may hold.
pub const MAX_INSTANCES: u32 = 10_000;

/// How to build a [`Runtime`](super::Runtime).
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where precompiled plugins are cached; `None` for the default
    /// (`$XDG_CACHE_HOME/wasmq`, else `~/.cache/wasmq`).
    pub cache_dir: Option<PathBuf>,
    /// Whether to use the disk cache at all.
    pub disk_cache: bool,
    /// The most the disk cache may hold, in bytes; past it the least
    /// recently used artifacts are removed.
    pub cache_max_bytes: u64,
    /// How many plugin instances may be alive at once (the pool size).
    pub max_instances: u32,
    /// The largest memory limit any plugin may have, in bytes.
    pub max_memory: u64,
    /// How often the epoch advances; the resolution of timeouts and cancellation.
    pub epoch_tick: Duration,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache_dir: None,
            disk_cache: true,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            max_instances: 64,
            max_memory: 1 << 30,
            epoch_tick: Duration::from_millis(5),
        }
    }
}

impl RuntimeOptions {
    /// The cache directory these options resolve to, if any.
    pub fn resolved_cache_dir(&self) -> Option<PathBuf> {
        if !self.disk_cache {
            return None;
        }
        self.cache_dir.clone().or_else(default_cache_dir)
    }

    fn validate(&self) -> Result<(), RuntimeError> {
        if self.max_instances == 0 || self.max_instances > MAX_INSTANCES {
            return Err(RuntimeError::Option(format!(
                "max_instances must be between 1 and {MAX_INSTANCES}, got {}",
                self.max_instances
            )));
        }
        if !(Limits::MIN_MEMORY..=Limits::MAX_MEMORY).contains(&self.max_memory) {
            return Err(RuntimeError::Option(format!(
                "max_memory must be between {} and {}, got {} bytes",
                format_size_exact(Limits::MIN_MEMORY),
                format_size_exact(Limits::MAX_MEMORY),
                self.max_memory
            )));
        }
        if self.epoch_tick < Duration::from_micros(100) || self.epoch_tick > Duration::from_secs(1)
        {
            return Err(RuntimeError::Option(format!(
                "epoch_tick must be between 100µs and 1s, got {:?}",
                self.epoch_tick
            )));
        }
        Ok(())
    }
}

/// `$XDG_CACHE_HOME/wasmq`, else `$HOME/.cache/wasmq`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("XDG_CACHE_HOME")
        .or_else(|| from("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join("wasmq"))
}

/// Core instances, memories and tables a component may need per instance.
/// A Rust wasip2 component has a few core modules (main, shims, adapters);
/// a componentize-py one 14 (CPython, its libc and each native extension
/// are linked dynamically, one module each), componentize-js 4. Counted
/// slots cost nothing until used, so leave Python room for more extensions.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
/// Tables: each core module defines at most one or two.
const TABLES_PER_COMPONENT: u32 = 16;
const MEMORIES_PER_COMPONENT: u32 = 4;

/// The fiber stack of one run: wasm's own stack limit (512 KiB, wasmtime's
/// default) plus room for the host functions it calls (WASI, the contract).
const ASYNC_STACK_SIZE: usize = 2 << 20;

/// What one linear-memory slot of the pool reserves in address space:
/// wasmtime's default 4 GiB reservation plus its 32 MiB guard. Reserved, not
/// committed: only pages a guest touches cost memory.
const MEMORY_SLOT_RESERVATION: u64 = (4 << 30) + (32 << 20);

/// The address space a process may reserve, with room left for everything
/// else: x86-64 and aarch64 give user space 128 TiB; keep a quarter free.
const ADDRESS_SPACE_BUDGET: u64 = 96 << 40;

/// Wasm frames kept in a trap's backtrace.
const BACKTRACE_FRAMES: usize = 32;

/// Builds the engine from validated options.
pub(crate) fn build_engine(options: &RuntimeOptions) -> Result<Engine, RuntimeError> {
    options.validate()?;
    let n = options.max_instances;
    check_address_space(n)?;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_stacks(n)
        .total_core_instances(n * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(n * MEMORIES_PER_COMPONENT)
        .total_tables(n * TABLES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(usize::try_from(options.max_memory).unwrap_or(usize::MAX))
        // Reset the first MiB of each slot with memset instead of madvise:
        // madvise + refault cost ~40 µs of host CPU per task in cross-core
        // TLB flushes and page faults (perf, see docs/benchmarks.md). The
        // memory is still reset between tasks, so nothing leaks.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        // The same for fiber stacks: their hot pages stay mapped.
        .async_stack_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .wasm_backtrace_max_frames(NonZeroUsize::new(BACKTRACE_FRAMES))
        .wasm_backtrace_details(WasmBacktraceDetails::Enable)
        .memory_init_cow(true)
        .async_stack_size(ASYNC_STACK_SIZE)
        .parallel_compilation(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| RuntimeError::Engine {
        message: format!(
            "{e:#} (the instance pool for {n} concurrent runs reserves about {}; \
             lower --concurrency if the machine cannot back it)",
            crate::config::units::format_size(pool_reservation(n))
        ),
    })
}

/// The address space the pool reserves for `instances` concurrent runs:
/// their memory slots and fiber stacks.
pub(crate) fn pool_reservation(instances: u32) -> u64 {
    let memories = u64::from(instances) * u64::from(MEMORIES_PER_COMPONENT);
    let stacks = u64::from(instances) * (ASYNC_STACK_SIZE as u64 + 4096);
    memories
        .saturating_mul(MEMORY_SLOT_RESERVATION)
        .saturating_add(stacks)
}

/// Refuses a pool larger than the address space the process can reserve
/// (the architecture's, or `RLIMIT_AS` when it is lower), before wasmtime
/// fails on it with a bare `mmap` error.
fn check_address_space(instances: u32) -> Result<(), RuntimeError> {
    let needed = pool_reservation(instances);
    let budget = address_space_limit().map_or(ADDRESS_SPACE_BUDGET, |limit| {
        ADDRESS_SPACE_BUDGET.min(limit.saturating_sub(limit / 4))
    });
    if needed <= budget {
        return Ok(());
    }
    let size = crate::config::units::format_size;
    let fits = budget / pool_reservation(1).max(1);
    Err(RuntimeError::Option(format!(
        "{instances} concurrent runs need about {} of address space for their \
         instance pool ({MEMORIES_PER_COMPONENT} memory slots of {} each, plus stacks), \
         but this process may reserve about {}, room for about {fits} runs; \
         lower --concurrency, or raise the address-space limit (ulimit -v)",
        size(needed),
        size(MEMORY_SLOT_RESERVATION),
        size(budget),
    )))
}

/// The process's `RLIMIT_AS`, if one is set.
#[cfg(unix)]
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the struct we own.
    #[allow(unsafe_code)]
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// Advances the engine's epoch every tick until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine, tick: Duration) -> Result<Self, RuntimeError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let engine = engine.clone();
        let thread = std::thread::Builder::new()
            .name("wasmq-epoch".into())
            .spawn(move || {
                // Disconnected (the ticker was dropped) ends the loop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .map_err(RuntimeError::Ticker)?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_larger_than_the_address_space_is_refused_with_the_figures() {
        // 10 000 runs × 4 memory slots × 4 GiB is beyond any 64-bit
        // process's 128 TiB of user address space.
        let error = build_engine(&RuntimeOptions {
            max_instances: 10_000,
            ..RuntimeOptions::default()
        })
        .expect_err("a 160 TiB pool cannot be reserved");
        let text = error.to_string();
        assert!(text.contains("10000 concurrent runs need about"), "{text}");
        assert!(text.contains("lower --concurrency"), "{text}");
        // A thousand fit.
        assert!(pool_reservation(1000) <= ADDRESS_SPACE_BUDGET);
    }
}
