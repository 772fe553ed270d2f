//! The Redis the bench runs against, and leaving it as it was found.
//!
//! Without `--redis` the bench starts a private `redis-server` (see
//! [`crate::cli::local_redis`]) and everything it writes dies with that
//! server. With `--redis` it shares a server that may hold someone's data,
//! so it works in a fresh random namespace (`wasmq-bench-<hex>`) and at the
//! end deletes exactly the keys of that namespace, found with `SCAN MATCH`,
//! never `FLUSHALL`/`FLUSHDB`.
//!
//! On Redis Cluster (`redis+cluster://…`) the per-server questions are asked
//! of every master through [`Servers`]: `INFO` reports one process, so the
//! memory and CPU readings are the sum over all masters (the report says
//! over how many: `shards`), and `SCAN` walks one keyspace, so the cleanup
//! scans each master and deletes through the cluster connection, which
//! routes every key to its slot's owner. Replicas are not read: they hold
//! copies, and the CPU they spend replicating is not the queue's work.
//! Completions need nothing per node: the broker's `PUBLISH` on `<ns>:done`
//! reaches every node of a cluster, and the drain counts through the
//! queue's own counters, which live on the queue's slot.

use super::probe::RedisReading;
use crate::broker::{BrokerError, Servers, mask_password};
use crate::cli::local_redis::LocalRedis;
use anyhow::{Context, Result};
use std::time::Duration;

/// Namespace used on a private server (nothing else lives there).
const PRIVATE_NAMESPACE: &str = "wasmq-bench";

/// Keys deleted per `SCAN` step and `UNLINK` during cleanup.
const CLEANUP_BATCH: usize = 1000;

/// How long one probe reply (INFO, SCAN, UNLINK) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A Redis to benchmark against: private or shared, one server or a Cluster.
#[derive(Debug)]
pub struct Target {
    /// The URL hosts and clients connect to.
    pub url: String,
    /// The namespace every key of this run lives under.
    pub namespace: String,
    /// Masters the readings are summed over: 1 standalone, N on Cluster.
    pub shards: usize,
    /// Every master, for probes (INFO) and cleanup (SCAN, UNLINK).
    servers: Servers,
    private: Option<LocalRedis>,
}

impl Target {
    /// Connects to `url`, or starts a private server when `url` is `None`.
    pub async fn open(url: Option<&str>) -> Result<Target> {
        let (url, namespace, private) = match url {
            Some(url) => {
                let suffix = format!("{:08x}", rand::random::<u32>());
                (
                    url.to_owned(),
                    format!("{PRIVATE_NAMESPACE}-{suffix}"),
                    None,
                )
            }
            None => {
                let local = tokio::task::spawn_blocking(LocalRedis::start)
                    .await
                    .context("starting a private redis-server")?
                    .context("the bench needs a Redis: pass --redis URL or install redis-server")?;
                (local.url(), PRIVATE_NAMESPACE.to_owned(), Some(local))
            }
        };
        let shown = mask_password(&url);
        let mut servers = match Servers::connect(&url, PROBE_TIMEOUT).await {
            Ok(servers) => servers,
            Err(e @ BrokerError::Url { .. }) => {
                return Err(e).context(
                    "--redis takes redis://host:port (one server) or \
                     redis+cluster://host:port,host:port (a Cluster's nodes)",
                );
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot reach Redis at {shown}: check that the server, or every node \
                         of the cluster, is up and listening there"
                    )
                });
            }
        };
        let shards = servers
            .info(&["server"])
            .await
            .with_context(|| format!("listing the masters of {shown}"))?
            .len();
        Ok(Target {
            url,
            namespace,
            shards,
            servers,
            private,
        })
    }

    /// True when the server is the bench's own.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    /// Memory and CPU now, summed over every master.
    pub async fn reading(&mut self) -> Result<RedisReading> {
        let nodes = self
            .servers
            .info(&["memory", "cpu"])
            .await
            .context("INFO memory cpu")?;
        let mut sum = RedisReading {
            used_memory: 0,
            cpu_us: 0,
        };
        for (node, info) in &nodes {
            let one = RedisReading::parse(info).with_context(|| format!("INFO of {node}"))?;
            sum.used_memory += one.used_memory;
            sum.cpu_us += one.cpu_us;
        }
        Ok(sum)
    }

    /// Deletes every key of this run's namespace on every master and returns
    /// how many there were. On a private server this is skipped: the server
    /// goes away.
    pub async fn cleanup(&mut self) -> Result<u64> {
        if self.is_private() {
            return Ok(0);
        }
        let pattern = format!("{}:*", self.namespace);
        self.servers
            .delete_matching(&pattern, CLEANUP_BATCH)
            .await
            .with_context(|| format!("deleting the bench's keys ({pattern})"))
    }
}
