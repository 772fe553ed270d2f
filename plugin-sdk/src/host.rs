//! Calls from the handler to the host: task log lines and progress.
//!
//! A plugin has no stdout worth reading (the host may discard it), so logging
//! goes through the contract's `log` import, which the host files under the
//! running task. On a native target (a handler's unit tests) there is no
//! host, so both calls write one line to standard error instead:
//! `[INFO] message`, `[PROGRESS 40%] note`.

use std::fmt;

/// The severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Details for debugging a handler.
    Debug,
    /// Normal progress of a task.
    Info,
    /// Something unexpected that the handler worked around.
    Warn,
    /// A failure.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        })
    }
}

/// Writes one line to the task's log on the host. The macros [`trace!`],
/// [`debug!`], [`info!`], [`warn!`] and [`error!`] format and call this.
///
/// [`trace!`]: crate::trace
/// [`debug!`]: crate::debug
/// [`info!`]: crate::info
/// [`warn!`]: crate::warn
/// [`error!`]: crate::error
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::wasmq::plugin::log::{Level as Wit, log};
        let level = match level {
            Level::Trace => Wit::Trace,
            Level::Debug => Wit::Debug,
            Level::Info => Wit::Info,
            Level::Warn => Wit::Warn,
            Level::Error => Wit::Error,
        };
        log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    native::write(format!("[{level}] {message}"));
}

/// Reports how far a long task got: `percent` (capped at 100) and a short
/// note such as `"resized 3 of 4 tiles"`.
pub fn progress(percent: u8, note: &str) {
    let percent = percent.min(100);
    #[cfg(target_arch = "wasm32")]
    crate::bindings::wasmq::plugin::progress::report(percent, note);
    #[cfg(not(target_arch = "wasm32"))]
    native::write(format!("[PROGRESS {percent}%] {note}"));
}

/// Where log and progress lines go on a native target.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;

    thread_local! {
        /// Lines collected by a test of this crate instead of printed.
        static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }

    /// Writes one line to standard error (or to the current capture).
    pub(super) fn write(line: String) {
        let unclaimed = CAPTURED.with(|captured| match captured.borrow_mut().as_mut() {
            Some(lines) => {
                lines.push(line);
                None
            }
            None => Some(line),
        });
        if let Some(line) = unclaimed {
            eprintln!("{line}");
        }
    }

    /// Runs `f` and returns the lines it wrote on this thread.
    #[cfg(test)]
    pub(super) fn capture(f: impl FnOnce()) -> Vec<String> {
        CAPTURED.with(|captured| *captured.borrow_mut() = Some(Vec::new()));
        f();
        CAPTURED.with(|captured| captured.borrow_mut().take().unwrap_or_default())
    }
}

/// Logs at [`Level::Trace`], with `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log($crate::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Debug`], with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Info`], with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log($crate::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Warn`], with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Error`], with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log($crate::Level::Error, &::std::format!($($arg)+)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_named() {
        assert!(Level::Trace < Level::Debug && Level::Warn < Level::Error);
        assert_eq!(Level::Warn.to_string(), "WARN");
    }

    #[test]
    fn macros_and_progress_write_their_lines_natively() {
        let lines = native::capture(|| {
            crate::trace!("t {}", 1);
            crate::debug!("d");
            crate::info!("i {x}", x = 2);
            crate::warn!("w");
            crate::error!("e {:?}", "quoted");
            progress(250, "capped at 100");
            progress(42, "");
        });
        assert_eq!(
            lines,
            [
                "[TRACE] t 1",
                "[DEBUG] d",
                "[INFO] i 2",
                "[WARN] w",
                "[ERROR] e \"quoted\"",
                "[PROGRESS 100%] capped at 100",
                "[PROGRESS 42%] ",
            ]
        );
    }
}
