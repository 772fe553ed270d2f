//! The broker driven directly, the way a host drives it: connect, lease,
//! ack, dead-letter, heartbeat. Tests use these calls to put tasks in any
//! state without running a worker, then check what the broker, the CLI or
//! the HTTP API make of that state. The completions and failures carry fixed
//! made-up run details ([`PLUGIN_VERSION`], [`FUEL_USED`], [`WALL`]) that
//! tests may assert on.

use std::time::Duration;
use wasmq::broker::{BrokerOptions, Completion, Failure, HostInfo, LeasedTask};
use wasmq::{Client, task::TaskSpec};

/// The plugin version every helper completion and failure reports.
pub const PLUGIN_VERSION: &str = "1.0.0";
/// The fuel every helper completion reports.
pub const FUEL_USED: u64 = 42;
/// The run time every helper completion reports.
pub const WALL: Duration = Duration::from_millis(3);

/// Options for tests: a short lease so expiry tests run fast.
pub fn opts() -> BrokerOptions {
    BrokerOptions {
        lease_duration: Duration::from_secs(30),
        ..BrokerOptions::default()
    }
}

/// A broker client on `url` with `opts`.
pub async fn connect(url: &str, opts: BrokerOptions) -> Client {
    Client::connect(url, opts)
        .await
        .expect("connect to the test Redis")
}

/// A broker client on `url` with the default namespace and options (what
/// hosts and the CLI use).
pub async fn client(url: &str) -> Client {
    connect(url, BrokerOptions::default()).await
}

/// A completion of `output` typed `content_type`.
pub fn completion(output: &[u8], content_type: &str) -> Completion {
    Completion {
        output: output.to_vec(),
        content_type: Some(content_type.to_owned()),
        plugin_version: PLUGIN_VERSION.into(),
        fuel_used: Some(FUEL_USED),
        wall: WALL,
        children: Vec::new(),
        run: None,
    }
}

/// A completion with `output` as JSON.
pub fn done(output: &str) -> Completion {
    completion(output.as_bytes(), "application/json")
}

/// A permanent failure with `message`.
pub fn failure(message: &str) -> Failure {
    Failure {
        reason: "permanent".into(),
        message: message.into(),
        plugin_version: PLUGIN_VERSION.into(),
        run: None,
    }
}

/// `n` tasks for `queue` whose payload is their number.
pub fn numbered(queue: &str, n: usize) -> Vec<TaskSpec> {
    (0..n)
        .map(|i| TaskSpec::new(queue, i.to_string()))
        .collect()
}

/// Leases everything pending in `queue`, in batches of `batch`.
pub async fn drain(client: &Client, queue: &str, batch: usize) -> Vec<LeasedTask> {
    let mut all = Vec::new();
    loop {
        let tasks = client.lease(queue, batch).await.expect("lease");
        if tasks.is_empty() {
            return all;
        }
        all.extend(tasks);
    }
}

/// A leased task's payload as text.
pub fn payload_text(task: &LeasedTask) -> String {
    String::from_utf8_lossy(&task.payload).into_owned()
}

/// Leases exactly one task of `queue`, as a host would.
pub async fn lease_one(client: &Client, queue: &str) -> LeasedTask {
    let mut tasks = client.lease(queue, 1).await.expect("lease");
    assert_eq!(tasks.len(), 1, "expected one pending task in {queue}");
    tasks.remove(0)
}

/// Acks `task` with `output`, as a host would after a successful run, and
/// checks the ack was not stale.
pub async fn complete(client: &Client, task: &LeasedTask, output: &[u8], content_type: &str) {
    let settled = client
        .ack(task, completion(output, content_type))
        .await
        .expect("ack");
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

/// The code Redis runs for `host/src/broker/lua/<file>`, as `scripts.rs`
/// builds it: the two prelude files, then the script. For tests that call a
/// script raw, past the client's own checks.
pub fn lua_script(file: &str) -> String {
    let dir = crate::plugins::workspace_root().join("host/src/broker/lua");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("read lua/{name}: {e}"))
    };
    [read("prelude.lua"), read("prelude_queue.lua"), read(file)].join("\n")
}
