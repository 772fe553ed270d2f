//! The runtime's [`KvStore`] on Redis: plugins' buckets through the
//! broker's key-value calls (`broker/kv.rs`).
//!
//! This is the join the layering asks for: the runtime defines what a bucket
//! needs and knows no Redis, the broker knows Redis and no wasm, and the
//! worker maps one onto the other. A Redis failure reaches the guest as the
//! bucket error `other`, with the operation named and no credentials.

use crate::broker::{Client, KvKey};
use crate::runtime::{KeyPage, KvBucket, KvError, KvResult, KvStore, Swapped};
use futures::future::BoxFuture;

/// Plugins' buckets in the broker's Redis.
#[derive(Debug, Clone)]
pub struct RedisKv {
    broker: Client,
}

impl RedisKv {
    /// Buckets in `broker`'s Redis, under its namespace.
    pub fn new(broker: Client) -> Self {
        RedisKv { broker }
    }

    fn key(&self, bucket: &KvBucket) -> KvResult<KvKey> {
        self.broker
            .kv_bucket(&bucket.task_type, &bucket.bucket, bucket.ttl)
            .map_err(|e| KvError(e.to_string()))
    }
}

fn failed(error: crate::broker::BrokerError) -> KvError {
    KvError(error.to_string())
}

impl KvStore for RedisKv {
    fn get(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move { broker.kv_get(&bucket?, &key).await.map_err(failed) })
    }

    fn set(
        &self,
        bucket: &KvBucket,
        key: String,
        value: Vec<u8>,
    ) -> BoxFuture<'static, KvResult<()>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move { broker.kv_set(&bucket?, &key, &value).await.map_err(failed) })
    }

    fn delete(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<()>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move { broker.kv_delete(&bucket?, &key).await.map_err(failed) })
    }

    fn exists(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<bool>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move { broker.kv_exists(&bucket?, &key).await.map_err(failed) })
    }

    fn list_keys(
        &self,
        bucket: &KvBucket,
        cursor: Option<String>,
    ) -> BoxFuture<'static, KvResult<KeyPage>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move {
            broker
                .kv_list(&bucket?, cursor.as_deref())
                .await
                .map_err(failed)
        })
    }

    fn increment(
        &self,
        bucket: &KvBucket,
        key: String,
        delta: i64,
    ) -> BoxFuture<'static, KvResult<i64>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move {
            broker
                .kv_increment(&bucket?, &key, delta)
                .await
                .map_err(|e| {
                    KvError(format!(
                        "incrementing `{key}`: {e} (is its value an integer?)"
                    ))
                })
        })
    }

    fn swap(
        &self,
        bucket: &KvBucket,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'static, KvResult<Swapped>> {
        let (broker, bucket) = (self.broker.clone(), self.key(bucket));
        Box::pin(async move {
            match broker
                .kv_swap(&bucket?, &key, expected.as_deref(), &value)
                .await
                .map_err(failed)?
            {
                None => Ok(Swapped::Done),
                Some(now) => Ok(Swapped::Changed(now)),
            }
        })
    }
}
