//! The real `wasmq` binary run as a process, the way a user runs it: the
//! command-line suites check its exit codes, stdout and stderr against a
//! fixture Redis, so what they test is what a shell sees, argument parsing
//! and output formatting included. State is set up beforehand with the
//! broker calls of [`crate::broker`].

use std::process::Stdio;
use std::time::Duration;

use crate::plugins::wasmq_bin;
use tokio::io::AsyncWriteExt;

/// What one `wasmq` invocation did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit code {code}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `wasmq ARGS` with `WASMQ_REDIS=url` and no other wasmq settings
/// from the environment.
pub async fn wasmq(url: &str, args: &[&str]) -> Run {
    wasmq_with_stdin(url, args, None).await
}

/// Like [`wasmq`], feeding `stdin` to the process.
pub async fn wasmq_with_stdin(url: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = tokio::process::Command::new(wasmq_bin());
    command
        .args(args)
        .env("WASMQ_REDIS", url)
        .env_remove("WASMQ_NAMESPACE")
        .env_remove("WASMQ_CACHE_DIR")
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start the wasmq binary");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(bytes).await.expect("write stdin");
        drop(pipe);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("wasmq {args:?} did not finish within 60 s"))
        .expect("wait for wasmq");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The `id` a `wasmq enqueue --json` printed.
#[track_caller]
pub fn enqueued_id(run: &Run) -> String {
    run.json()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", run.stdout))
        .to_owned()
}

/// Runs `wasmq call ARGS --cache-dir CACHE` (no Redis) and returns what it
/// did, whatever the exit code.
pub fn call(args: &[&str], cache: &std::path::Path) -> std::process::Output {
    std::process::Command::new(wasmq_bin())
        .arg("call")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .output()
        .expect("run wasmq call")
}

/// A finished process's status, stdout and stderr, for assertion messages.
pub fn show(output: &std::process::Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
