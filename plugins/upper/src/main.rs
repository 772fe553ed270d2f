//! `upper`: a wasmq plugin as a plain WASI command, in plain `std`.
//!
//! Not every plugin author writes Rust against the WIT contract. A program
//! in any language that compiles to a WASI (preview 1) command works too:
//! the host passes the payload on stdin, takes stdout as the output, stderr
//! as the log, and the exit code as the verdict:
//!
//! - 0: success;
//! - 75 (`EX_TEMPFAIL`): retryable failure;
//! - anything else: permanent failure.
//!
//! This one uppercases its input (ASCII). A payload containing `retry`
//! exits 75 and one containing `fail` exits 1, each with a message on stderr,
//! so the host's mapping of exit codes can be tested.

use std::io::{Read, Write};
use std::process::ExitCode;

/// The exit code for "try again later", from BSD's `sysexits.h`.
const EX_TEMPFAIL: u8 = 75;

fn main() -> ExitCode {
    let mut payload = Vec::new();
    if let Err(err) = std::io::stdin().read_to_end(&mut payload) {
        eprintln!("upper: cannot read the payload from stdin: {err}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    if contains(&payload, b"retry") {
        eprintln!("upper: payload asks for a retry");
        return ExitCode::from(EX_TEMPFAIL);
    }
    if contains(&payload, b"fail") {
        eprintln!("upper: payload asks for a permanent failure");
        return ExitCode::FAILURE;
    }
    payload.make_ascii_uppercase();
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&payload).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("upper: cannot write the output to stdout: {err}");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
