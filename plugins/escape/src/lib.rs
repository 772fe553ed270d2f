//! `escape`: tries to get out of the sandbox and reports what it got.
//!
//! It reads `/etc/passwd` and `/etc/hostname`, lists `/`, connects to
//! 127.0.0.1:6379 (a Redis the host may well be using), and reads the
//! environment. Every attempt is recorded rather than allowed to fail the
//! task, and the report is returned as the (successful) output:
//!
//! ```json
//! {"file": "error: ...", "hostname": "error: ...", "dir": "error: ...",
//!  "socket": "error: ...", "env": [], "home": null, "path": null}
//! ```
//!
//! A host that sandboxes correctly gives an error for every file, directory
//! and socket entry, an empty `env`, and nulls for `home` and `path`. A
//! successful attempt is reported as `ok: ...` with what it saw, so a failing
//! test names the hole.

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use wasmq_plugin_sdk::{Output, Task, TaskError, warn};

#[wasmq_plugin_sdk::handler]
fn handle(_task: Task) -> Result<Output, TaskError> {
    let report = serde_json::json!({
        "file": read_file("/etc/passwd"),
        "hostname": read_file("/etc/hostname"),
        "dir": list_dir("/"),
        "socket": connect("127.0.0.1:6379"),
        "env": std::env::vars().map(|(k, _)| k).collect::<Vec<_>>(),
        "home": std::env::var("HOME").ok(),
        "path": std::env::var("PATH").ok(),
    });
    if report
        .as_object()
        .into_iter()
        .flatten()
        .any(|(_, v)| v.as_str().is_some_and(|s| s.starts_with("ok")))
    {
        warn!("escape: some attempt succeeded: {report}");
    }
    Output::json(&report)
}

fn read_file(path: &str) -> String {
    match std::fs::read(path) {
        Ok(bytes) => format!("ok: read {} bytes", bytes.len()),
        Err(err) => format!("error: {err}"),
    }
}

fn list_dir(path: &str) -> String {
    match std::fs::read_dir(path) {
        Ok(entries) => format!("ok: {} entries", entries.count()),
        Err(err) => format!("error: {err}"),
    }
}

fn connect(addr: &str) -> String {
    let addr = match addr.parse() {
        Ok(addr) => addr,
        Err(err) => return format!("error: bad address {addr}: {err}"),
    };
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Ok(mut stream) => {
            let mut buf = [0u8; 64];
            let got = stream.read(&mut buf).unwrap_or(0);
            format!("ok: connected, read {got} bytes")
        }
        Err(err) => format!("error: {err}"),
    }
}
