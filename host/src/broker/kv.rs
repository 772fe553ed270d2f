//! Plugins' key-value buckets in Redis: one `HASH` per plugin and bucket,
//! `<ns>:{kv:<plugin>:<bucket>}`, so a bucket lives in one Cluster slot and
//! one plugin's keys can never be named by another's (the plugin is part of
//! the key, from the host, never from the guest).
//!
//! Reads are plain commands (`HGET`, `HEXISTS`, `HSCAN` with its cursor);
//! each write is one script (`kv_set.lua`, `kv_incr.lua`, `kv_swap.lua`) so
//! that it renews a bucket's expiry in the same step. The worker turns these
//! into the runtime's `KvStore` (`worker/kv.rs`).

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::scripts::SCRIPTS;
use crate::error::{validate_namespace, validate_queue_name};
use redis::Value;
use std::time::Duration;

/// Keys returned per `list-keys` page (a `HSCAN` `COUNT` hint).
const SCAN_COUNT: usize = 100;

/// A bucket as the broker addresses it.
#[derive(Debug, Clone)]
pub struct KvKey {
    key: String,
    ttl_ms: u64,
}

impl Client {
    /// The Redis key of `plugin`'s `bucket`, with its expiry (if any).
    pub fn kv_bucket(
        &self,
        plugin: &str,
        bucket: &str,
        ttl: Option<Duration>,
    ) -> BrokerResult<KvKey> {
        let ns = &self.options().namespace;
        validate_namespace(ns)?;
        validate_queue_name(plugin)?;
        validate_queue_name(bucket)?;
        Ok(KvKey {
            key: format!("{ns}:{{kv:{plugin}:{bucket}}}"),
            ttl_ms: ttl.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        })
    }

    /// The value at `key`, if any.
    pub async fn kv_get(&self, bucket: &KvKey, key: &str) -> BrokerResult<Option<Vec<u8>>> {
        redis::cmd("HGET")
            .arg(&bucket.key)
            .arg(key)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("kv get", e))
    }

    /// Sets `key` to `value`.
    pub async fn kv_set(&self, bucket: &KvKey, key: &str, value: &[u8]) -> BrokerResult<()> {
        let mut inv = SCRIPTS.kv_set.prepare_invoke();
        inv.key(&bucket.key).arg(key).arg(value).arg(bucket.ttl_ms);
        self.invoke(&inv, "kv set").await.map(|_| ())
    }

    /// Removes `key`.
    pub async fn kv_delete(&self, bucket: &KvKey, key: &str) -> BrokerResult<()> {
        redis::cmd("HDEL")
            .arg(&bucket.key)
            .arg(key)
            .query_async::<i64>(&mut self.conn())
            .await
            .map(|_| ())
            .map_err(|e| self.fail("kv delete", e))
    }

    /// Whether `key` exists.
    pub async fn kv_exists(&self, bucket: &KvKey, key: &str) -> BrokerResult<bool> {
        redis::cmd("HEXISTS")
            .arg(&bucket.key)
            .arg(key)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("kv exists", e))
    }

    /// One page of keys from `cursor` (`None` or `"0"`: the start); the
    /// next cursor, `None` after the last page.
    pub async fn kv_list(
        &self,
        bucket: &KvKey,
        cursor: Option<&str>,
    ) -> BrokerResult<(Vec<String>, Option<String>)> {
        let (next, pairs): (String, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg(&bucket.key)
            .arg(cursor.unwrap_or("0"))
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("kv list keys", e))?;
        let keys = pairs
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(&pair[0]).into_owned())
            .collect();
        Ok((keys, (next != "0").then_some(next)))
    }

    /// Adds `delta` to the integer at `key`; the new value.
    pub async fn kv_increment(&self, bucket: &KvKey, key: &str, delta: i64) -> BrokerResult<i64> {
        let mut inv = SCRIPTS.kv_incr.prepare_invoke();
        inv.key(&bucket.key).arg(key).arg(delta).arg(bucket.ttl_ms);
        match self.invoke(&inv, "kv increment").await? {
            Value::Int(n) => Ok(n),
            other => Err(BrokerError::reply("kv increment", format!("{other:?}"))),
        }
    }

    /// Sets `key` to `value` if it holds `expected` (`None`: absent).
    /// `Ok(None)` when written, `Ok(Some(current))` when it had changed.
    pub async fn kv_swap(
        &self,
        bucket: &KvKey,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> BrokerResult<Option<Option<Vec<u8>>>> {
        let mut inv = SCRIPTS.kv_swap.prepare_invoke();
        inv.key(&bucket.key)
            .arg(key)
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(value)
            .arg(bucket.ttl_ms);
        let reply = self.invoke(&inv, "kv swap").await?;
        let Value::Array(items) = reply else {
            return Err(BrokerError::reply("kv swap", format!("{reply:?}")));
        };
        match items.as_slice() {
            [Value::Int(1)] => Ok(None),
            [Value::Int(0), Value::BulkString(now)] => Ok(Some(Some(now.clone()))),
            [Value::Int(0), _] | [Value::Int(0)] => Ok(Some(None)),
            other => Err(BrokerError::reply("kv swap", format!("{other:?}"))),
        }
    }
}
