//! The Redis the bench runs against, and leaving it as it was found.
//!
//! Without `--redis` the bench starts a private `redis-server` (see
//! [`crate::cli::local_redis`]) and everything it writes dies with that
//! server. With `--redis` it shares a server that may hold someone's data,
//! so it works in a fresh random namespace (`wasmq-bench-<hex>`) and at the
//! end deletes exactly the keys of that namespace, found with `SCAN MATCH`,
//! never `FLUSHALL`/`FLUSHDB`. Redis Cluster is refused: `INFO` and the
//! completion tracking of the live phase are per node, and a figure mixing
//! nodes would not mean what the report says.

use super::probe::RedisReading;
use crate::broker::mask_password;
use crate::cli::local_redis::LocalRedis;
use anyhow::{Context, Result, bail};
use redis::aio::MultiplexedConnection;

/// Namespace used on a private server (nothing else lives there).
const PRIVATE_NAMESPACE: &str = "wasmq-bench";

/// Keys deleted per `UNLINK` during cleanup.
const CLEANUP_BATCH: usize = 1000;

/// A Redis to benchmark against: private or shared.
#[derive(Debug)]
pub struct Target {
    /// The URL hosts and clients connect to.
    pub url: String,
    /// The namespace every key of this run lives under.
    pub namespace: String,
    /// A plain connection for probes (INFO, counters, records, cleanup).
    pub conn: MultiplexedConnection,
    private: Option<LocalRedis>,
}

impl Target {
    /// Connects to `url`, or starts a private server when `url` is `None`.
    pub async fn open(url: Option<&str>) -> Result<Target> {
        let (url, namespace, private) = match url {
            Some(url) => {
                refuse_cluster(url)?;
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
        let client = redis::Client::open(url.as_str())
            .with_context(|| format!("`{}` is not a valid Redis URL", mask_password(&url)))?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("cannot connect to Redis at {}", mask_password(&url)))?;
        Ok(Target {
            url,
            namespace,
            conn,
            private,
        })
    }

    /// True when the server is the bench's own.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    /// Memory and CPU of the server now.
    pub async fn reading(&mut self) -> Result<RedisReading> {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .arg("cpu")
            .query_async(&mut self.conn)
            .await
            .context("INFO memory cpu")?;
        Ok(RedisReading::parse(&info)?)
    }

    /// Deletes every key of this run's namespace and returns how many there
    /// were. On a private server this is skipped: the server goes away.
    pub async fn cleanup(&mut self) -> Result<u64> {
        if self.is_private() {
            return Ok(0);
        }
        let pattern = format!("{}:*", self.namespace);
        let mut cursor: u64 = 0;
        let mut deleted = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(CLEANUP_BATCH)
                .query_async(&mut self.conn)
                .await
                .with_context(|| format!("SCAN for the bench's keys ({pattern})"))?;
            for chunk in keys.chunks(CLEANUP_BATCH) {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(chunk)
                    .query_async(&mut self.conn)
                    .await
                    .with_context(|| format!("UNLINK the bench's keys ({pattern})"))?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

/// The bench measures one server; cluster URLs get a clear refusal.
fn refuse_cluster(url: &str) -> Result<()> {
    if url.contains(',') || url.starts_with("redis+cluster") || url.contains("cluster=true") {
        bail!(
            "the bench measures a single Redis server, and `{}` is a Redis Cluster URL; \
             pass the URL of one server, or omit --redis to use a private one",
            mask_password(url)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_refused_with_a_way_out() {
        for url in [
            "redis+cluster://127.0.0.1:7000",
            "redis://a:1,redis://b:2",
            "redis://127.0.0.1:7000/?cluster=true",
            "redis://:Secret1@a:1,redis://:Secret2@b:2",
        ] {
            let err = refuse_cluster(url).unwrap_err().to_string();
            assert!(
                err.contains("single Redis server") && err.contains("omit --redis"),
                "{err}"
            );
            assert!(!err.contains("Secret"), "{err}");
        }
        refuse_cluster("redis://127.0.0.1:6379").unwrap();
    }
}
