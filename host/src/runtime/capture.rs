//! Bounded in-memory capture of a guest's stdout and stderr.
//!
//! wasmtime-wasi's `MemoryOutputPipe` fails the guest's write once full, which
//! turns a chatty but correct handler into a crash. Here a log stream keeps
//! its first bytes and silently counts the rest (the log is marked as
//! truncated), while the stdout of a WASI command, which *is* its output,
//! fails the write past the output limit so the run stops early and is
//! reported as `OutputTooLarge`.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Raised (as a trap) when a command's stdout passes its output limit.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("output is larger than the limit of {limit} bytes")]
pub(crate) struct OutputOverflow {
    /// The output limit in bytes.
    pub limit: u64,
}

/// What a capture holds once the run is over.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The first bytes written, up to the capture's size.
    pub bytes: Vec<u8>,
    /// How many bytes the guest wrote (or tried to), kept or not.
    pub total: u64,
}

impl Captured {
    /// The kept bytes as text, with a marker if some were dropped.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        let dropped = self.total.saturating_sub(self.bytes.len() as u64);
        if dropped > 0 {
            text.push_str(&format!("\n[... {dropped} more bytes truncated]"));
        }
        text
    }
}

#[derive(Debug)]
struct State {
    captured: Captured,
    keep: usize,
    fail_over: Option<u64>,
}

/// A shared, bounded sink usable as a WASI stdout or stderr.
#[derive(Debug, Clone)]
pub(crate) struct Capture(Arc<Mutex<State>>);

impl Capture {
    /// A log capture: keeps the first `keep` bytes, accepts and counts the rest.
    pub fn log(keep: usize) -> Self {
        Self::with(keep, None)
    }

    /// An output capture: keeps up to `limit` bytes and fails any write
    /// beyond them with [`OutputOverflow`].
    pub fn output(limit: u64) -> Self {
        Self::with(usize::try_from(limit).unwrap_or(usize::MAX), Some(limit))
    }

    fn with(keep: usize, fail_over: Option<u64>) -> Self {
        Capture(Arc::new(Mutex::new(State {
            captured: Captured::default(),
            keep,
            fail_over,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the buffer inconsistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `bytes`; `Err` if this write takes an output past its limit.
    fn append(&self, bytes: &[u8]) -> Result<(), OutputOverflow> {
        let mut state = self.lock();
        state.captured.total += bytes.len() as u64;
        if let Some(limit) = state.fail_over
            && state.captured.total > limit
        {
            return Err(OutputOverflow { limit });
        }
        let room = state.keep.saturating_sub(state.captured.bytes.len());
        let kept = bytes.len().min(room);
        state.captured.bytes.extend_from_slice(&bytes[..kept]);
        Ok(())
    }

    /// Whether a write went past the output limit.
    pub fn overflowed(&self) -> Option<(u64, u64)> {
        let state = self.lock();
        state
            .fail_over
            .filter(|limit| state.captured.total > *limit)
            .map(|limit| (state.captured.total, limit))
    }

    /// Takes what was captured, leaving the capture empty.
    pub fn take(&self) -> Captured {
        std::mem::take(&mut self.lock().captured)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Most bytes a guest may write in one `write` call (the WASI permit).
const PERMIT: usize = 64 << 10;

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes)
            .map_err(|overflow| StreamError::Trap(overflow.into()))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(PERMIT)
    }
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.append(buf)
                .map(|()| buf.len())
                .map_err(io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_capture_keeps_the_head_and_counts_the_rest() {
        let capture = Capture::log(4);
        capture.append(b"hello").unwrap();
        capture.append(b" world").unwrap();
        assert_eq!(capture.overflowed(), None);
        let captured = capture.take();
        assert_eq!(captured.bytes, b"hell");
        assert_eq!(captured.total, 11);
        assert_eq!(captured.text(), "hell\n[... 7 more bytes truncated]");
    }

    #[test]
    fn output_capture_fails_past_the_limit() {
        let capture = Capture::output(5);
        capture.append(b"12345").unwrap();
        assert_eq!(capture.overflowed(), None);
        assert_eq!(capture.append(b"6").unwrap_err().limit, 5);
        assert_eq!(capture.overflowed(), Some((6, 5)));
    }
}
