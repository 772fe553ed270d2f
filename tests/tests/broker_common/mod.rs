//! Shared helpers of the broker test suites: each scenario is an async
//! function taking a Redis URL, and [`both_backends!`] turns it into one test
//! against a fresh standalone server and one against a fresh 3-master cluster.

#![allow(dead_code)] // each suite uses a different subset

use std::time::Duration;
use wasmq::broker::{BrokerOptions, Completion, Failure, LeasedTask};
use wasmq::{Client, task::TaskSpec};
use wasmq_tests::redis::{RedisCluster, RedisServer};

/// A running Redis of either kind; dropped at the end of the test.
pub enum Backend {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    pub fn single() -> Self {
        Backend::Single(RedisServer::start())
    }

    pub fn cluster() -> Self {
        Backend::Cluster(RedisCluster::start())
    }

    pub fn url(&self) -> String {
        match self {
            Backend::Single(s) => s.url(),
            Backend::Cluster(c) => c.url(),
        }
    }

    /// SIGKILLs every server process.
    pub fn kill(&mut self) {
        match self {
            Backend::Single(s) => s.kill(),
            Backend::Cluster(c) => c.kill(),
        }
    }

    /// Starts the servers again on the same ports and data dirs.
    pub fn restart(&mut self) {
        match self {
            Backend::Single(s) => s.restart(),
            Backend::Cluster(c) => c.restart(),
        }
    }
}

/// Generates `mod <scenario> { standalone, cluster }` tests that run
/// `<scenario>(url)` against each backend.
#[macro_export]
macro_rules! both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn standalone() {
                let backend = $crate::broker_common::Backend::single();
                super::$scenario(backend.url()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cluster() {
                let backend = $crate::broker_common::Backend::cluster();
                super::$scenario(backend.url()).await;
            }
        }
    )*};
}

/// Options for tests: a short lease so expiry tests run fast.
pub fn opts() -> BrokerOptions {
    BrokerOptions {
        lease_duration: Duration::from_secs(30),
        ..BrokerOptions::default()
    }
}

pub async fn connect(url: &str, opts: BrokerOptions) -> Client {
    Client::connect(url, opts)
        .await
        .expect("connect to the test Redis")
}

/// A completion with `output` as JSON.
pub fn done(output: &str) -> Completion {
    Completion {
        output: output.as_bytes().to_vec(),
        content_type: Some("application/json".into()),
        plugin_version: "1.0.0".into(),
        fuel_used: Some(42),
        wall: Duration::from_millis(3),
        children: Vec::new(),
    }
}

pub fn failure(message: &str) -> Failure {
    Failure {
        reason: "permanent".into(),
        message: message.into(),
        plugin_version: "1.0.0".into(),
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

pub fn payload_text(task: &LeasedTask) -> String {
    String::from_utf8_lossy(&task.payload).into_owned()
}

/// A plain connection for planting data behind the broker's back.
pub enum Raw {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    pub async fn open(url: &str) -> Self {
        match url.strip_suffix("?cluster=true") {
            Some(node) => {
                let client = redis::cluster::ClusterClient::new(vec![node]).unwrap();
                Raw::Cluster(client.get_async_connection().await.unwrap())
            }
            None => {
                let client = redis::Client::open(url).unwrap();
                Raw::Single(client.get_multiplexed_async_connection().await.unwrap())
            }
        }
    }

    /// Runs one command and returns its reply.
    pub async fn run<T: redis::FromRedisValue>(&mut self, args: &[&str]) -> T {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match self {
            Raw::Single(c) => cmd.query_async(c).await.unwrap(),
            Raw::Cluster(c) => cmd.query_async(c).await.unwrap(),
        }
    }
}
