//! The per-task sandbox: what every run's `Store` carries and how it is
//! bounded, whatever the plugin kind.
//!
//! A fresh store per task is what makes runs independent: no global state,
//! memory or file handle survives from one task to the next. Building it must
//! stay cheap (it happens per task), so nothing here allocates in proportion
//! to the limits: captures and logs grow only as the guest writes.

use super::capture::Capture;
use super::invocation::CancelToken;
use crate::config::Limits;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

/// How much of each of stdout, stderr and the `log` import a task log keeps.
pub(crate) const LOG_KEEP: usize = 64 << 10;

/// Why the host stopped a run (raised from the epoch callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Interruption {
    /// The wall-clock timeout passed.
    #[error("the task ran past its timeout")]
    TimedOut,
    /// The task's [`CancelToken`] was cancelled.
    #[error("the task was cancelled")]
    Cancelled,
}

/// Caps linear memory and remembers the peak and any refused growth, so that
/// a trap after a refused `memory.grow` is reported as out-of-memory.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: usize,
    /// The largest size any memory reached, in bytes.
    pub peak: usize,
    /// The size of the first growth that was refused, if any.
    pub refused: Option<usize>,
}

impl MemoryLimiter {
    pub fn new(limit: u64) -> Self {
        MemoryLimiter {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            peak: 0,
            refused: None,
        }
    }
}

/// Table growth allowed per table (the pooling allocator has its own cap).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused.get_or_insert(desired);
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The `log` import's entries, bounded to [`LOG_KEEP`] bytes.
#[derive(Debug, Default)]
pub(crate) struct TaskLog {
    text: String,
    dropped: usize,
}

impl TaskLog {
    /// Appends one line `LEVEL message`, or counts it if the log is full.
    pub fn push(&mut self, level: &str, message: &str) {
        if self.text.len() + level.len() + message.len() + 2 > LOG_KEEP {
            self.dropped += 1;
            return;
        }
        self.text.push_str(level);
        self.text.push(' ');
        self.text.push_str(message);
        self.text.push('\n');
    }

    /// The entries, with a marker if some were dropped.
    pub fn finish(self) -> String {
        let mut text = self.text;
        if self.dropped > 0 {
            text.push_str(&format!(
                "[... {} more log entries dropped]\n",
                self.dropped
            ));
        }
        text
    }
}

/// A run's [`TaskLog`], shared between the store (the `log` import, the
/// outbound HTTP hook) and the caller, which keeps it when a run is stopped
/// and its store thrown away.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedLog(Arc<Mutex<TaskLog>>);

impl SharedLog {
    /// Appends one entry; see [`TaskLog::push`].
    pub fn push(&self, level: &str, message: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(level, message);
    }

    /// The entries so far, leaving the log empty.
    pub fn take(&self) -> String {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner)).finish()
    }
}

/// The host-side state common to both plugin kinds.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub limiter: MemoryLimiter,
    pub log: SharedLog,
    pub progress: Option<(u8, String)>,
    /// Where each progress report also goes, while the run goes on.
    pub feed: Option<super::ProgressFeed>,
}

impl Sandbox {
    pub fn new(limits: &Limits, log: SharedLog) -> Self {
        Sandbox {
            limiter: MemoryLimiter::new(limits.memory),
            log,
            progress: None,
            feed: None,
        }
    }
}

/// A WASI context that grants nothing: no preopened directory, no network,
/// no environment, no arguments but the program name. Clocks and random are
/// the only ambient capabilities, and stdio goes to the given captures.
pub(crate) fn deny_all_wasi(program: &str, stdout: &Capture, stderr: &Capture) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg(program)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    builder
}

/// A store state that carries a [`Sandbox`], so [`arm`] can reach its
/// memory limiter whatever the plugin kind.
pub(crate) trait HasSandbox: 'static {
    /// The run's sandbox.
    fn sandbox(&mut self) -> &mut Sandbox;
}

/// Gives the store its fuel (`limits.fuel`), its memory limiter and an epoch
/// callback that stops the run once `deadline` has passed, or when `cancel`
/// is set, and otherwise yields to the executor.
///
/// The callback runs on every epoch tick, so both checks are observed within
/// about one tick, even in a loop that never calls the host; and the yield
/// lets a CPU-bound guest share its executor thread with the other runs. A
/// guest blocked in a host call never reaches the callback: the caller's
/// timer stops it ([`super::Plugin::run`]).
pub(crate) fn arm<T: HasSandbox>(
    store: &mut Store<T>,
    limits: &Limits,
    deadline: Instant,
    cancel: &CancelToken,
) -> wasmtime::Result<()> {
    store.set_fuel(limits.fuel)?;
    store.limiter(|state| &mut state.sandbox().limiter as &mut dyn ResourceLimiter);
    store.set_epoch_deadline(1);
    let cancel = cancel.clone();
    store.epoch_deadline_callback(move |_| {
        if cancel.is_cancelled() {
            Err(Interruption::Cancelled.into())
        } else if Instant::now() >= deadline {
            Err(Interruption::TimedOut.into())
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(())
}

/// The fuel spent so far, given the budget the store started with.
pub(crate) fn fuel_used<T>(store: &Store<T>, budget: u64) -> u64 {
    budget.saturating_sub(store.get_fuel().unwrap_or(0))
}

/// Clamps `limits` to what the engine's pool allows.
pub(crate) fn effective(limits: Limits, max_memory: u64) -> Limits {
    Limits {
        memory: limits.memory.min(max_memory),
        ..limits
    }
}

/// `deadline_ms` for the WIT task record: now plus the timeout.
pub(crate) fn deadline_ms(timeout: Duration) -> u64 {
    super::invocation::now_ms()
        .saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_records_peak_and_refusal() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 65536, None).unwrap());
        assert!(limiter.memory_growing(65536, 1 << 20, None).unwrap());
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert_eq!(limiter.peak, 1 << 20);
        assert_eq!(limiter.refused, Some(2 << 20));
    }

    #[test]
    fn task_log_is_bounded() {
        let mut log = TaskLog::default();
        let line = "x".repeat(1000);
        for _ in 0..100 {
            log.push("INFO", &line);
        }
        let text = log.finish();
        assert!(text.len() <= LOG_KEEP + 100, "{}", text.len());
        assert!(
            text.ends_with("more log entries dropped]\n"),
            "{}",
            &text[text.len() - 60..]
        );
    }
}
