//! Shared helpers of the `wasmq` command-line suites: run the real binary as
//! a process against a fixture Redis and read its exit code, stdout and
//! stderr; and a broker [`Client`] to set up state the way a host would.

#![allow(dead_code)] // each suite uses a different subset

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use wasmq::Client;
use wasmq::broker::{BrokerOptions, Completion, HostInfo, LeasedTask};
use wasmq_tests::plugins::wasmq_bin;

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

/// A broker client on `url` in the default namespace, as the CLI uses.
pub async fn client(url: &str) -> Client {
    Client::connect(url, BrokerOptions::default())
        .await
        .expect("connect the test client")
}

/// Leases exactly one task of `queue`, as a host would.
pub async fn lease_one(client: &Client, queue: &str) -> LeasedTask {
    let mut tasks = client.lease(queue, 1).await.expect("lease");
    assert_eq!(tasks.len(), 1, "expected one pending task in {queue}");
    tasks.remove(0)
}

/// Acks `task` with `output`, as a host would after a successful run.
pub async fn complete(client: &Client, task: &LeasedTask, output: &[u8], content_type: &str) {
    let completion = Completion {
        output: output.to_vec(),
        content_type: Some(content_type.to_owned()),
        plugin_version: "test0001".to_owned(),
        fuel_used: Some(1234),
        wall: Duration::from_millis(3),
        children: Vec::new(),
    };
    let settled = client.ack(task, completion).await.expect("ack");
    assert!(!settled.is_stale(), "ack of {} was stale", task.id);
}

/// Sends a heartbeat for a fake host serving `plugins` (`type@version`).
pub async fn heartbeat(client: &Client, host_id: &str, plugins: &[&str]) {
    let info = HostInfo {
        host_id: host_id.to_owned(),
        hostname: "test-box".to_owned(),
        pid: 4242,
        version: "0.1.0".to_owned(),
        started_at_ms: wasmq::task::unix_ms(std::time::SystemTime::now()) - 90_000,
        plugins: plugins.iter().map(|p| (*p).to_owned()).collect(),
        in_flight: 1,
        processed: 7,
        last_seen_ms: 0,
    };
    client
        .heartbeat(&info, Duration::from_secs(60))
        .await
        .expect("heartbeat");
}

/// The `id` a `wasmq enqueue --json` printed.
#[track_caller]
pub fn enqueued_id(run: &Run) -> String {
    run.json()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", run.stdout))
        .to_owned()
}
