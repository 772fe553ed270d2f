//! The ways a guest can hold on to its host without returning, shared by
//! the `stall` component and the `stall-cmd` command so both plugin kinds
//! are tested against the same behaviours.

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

/// How to stall, named by the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `std::thread::sleep` for an hour: blocked in one WASI call
    /// (`poll_oneoff` / `wasi:clocks` subscribe + poll).
    Sleep,
    /// Reads stdin forever: each read returns at once (stdin is the payload,
    /// then end of file), so the guest lives in a loop of host calls.
    Stdin,
    /// Reads the monotonic clock in a loop: a guest spinning on clock calls.
    Clock,
    /// `loop {}`: pure wasm, never calls the host.
    Spin,
}

impl Mode {
    /// The mode a payload names: `sleep`, `stdin`, `clock` or `loop`
    /// (surrounding whitespace and JSON quotes are ignored).
    pub fn parse(payload: &[u8]) -> Result<Mode, String> {
        let text = String::from_utf8_lossy(payload);
        match text.trim().trim_matches('"') {
            "sleep" => Ok(Mode::Sleep),
            "stdin" => Ok(Mode::Stdin),
            "clock" => Ok(Mode::Clock),
            "loop" => Ok(Mode::Spin),
            other => Err(format!(
                "unknown mode {other:?}: the payload must be \"sleep\", \"stdin\", \"clock\" or \"loop\""
            )),
        }
    }

    /// Stalls; returns only if the host lets it (it never should).
    pub fn stall(self) {
        match self {
            Mode::Sleep => std::thread::sleep(Duration::from_secs(3600)),
            Mode::Stdin => {
                let mut stdin = std::io::stdin();
                let mut buf = [0u8; 64];
                loop {
                    let _ = black_box(stdin.read(&mut buf));
                }
            }
            Mode::Clock => {
                let start = Instant::now();
                while black_box(start.elapsed()) < Duration::from_secs(3600) {}
            }
            Mode::Spin => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
        }
    }
}
