//! Key-value storage for plugins (`wasi:keyvalue@0.2.0-draft2`): buckets
//! granted by the manifest's `[capabilities] kv`, scoped per plugin.
//!
//! The runtime knows no Redis. It defines [`KvStore`], the operations a
//! bucket needs, and the worker implements it on the broker (one Redis hash
//! per plugin and bucket, so Cluster keeps each bucket in one slot). `wasmq
//! call` and the tests without Redis use [`MemoryKv`]. The host side of the
//! WIT interfaces, which checks grants and bounds values before anything
//! reaches a store, is in `kv_host.rs`.

use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// One bucket of one plugin: what a store needs to find its data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvBucket {
    /// The task type whose plugin owns it.
    pub task_type: String,
    /// The bucket name, as granted.
    pub bucket: String,
    /// Expire the bucket this long after its last write, if set.
    pub ttl: Option<Duration>,
}

/// Why a store operation failed (the guest sees `error::other`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

/// The result of a store operation.
pub type KvResult<T> = Result<T, KvError>;

/// What a compare-and-swap found: it wrote, or the value had changed (and
/// this is the value now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swapped {
    /// The value was as expected and is now the new one.
    Done,
    /// Someone changed it first; the current value.
    Changed(Option<Vec<u8>>),
}

/// A page of keys and the cursor of the next page (`None`: the last).
pub type KeyPage = (Vec<String>, Option<String>);

/// A backing store for plugin buckets. Each method is one atomic step on
/// one bucket; futures own their arguments so a run can be dropped at any
/// point without leaving a borrow behind.
pub trait KvStore: Send + Sync + 'static {
    /// The value of `key`, if any.
    fn get(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>>;
    /// Sets `key` to `value`.
    fn set(
        &self,
        bucket: &KvBucket,
        key: String,
        value: Vec<u8>,
    ) -> BoxFuture<'static, KvResult<()>>;
    /// Removes `key` (no error if absent).
    fn delete(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<()>>;
    /// Whether `key` exists.
    fn exists(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<bool>>;
    /// One page of keys from `cursor` (`None`: the first page).
    fn list_keys(
        &self,
        bucket: &KvBucket,
        cursor: Option<String>,
    ) -> BoxFuture<'static, KvResult<KeyPage>>;
    /// Adds `delta` to the integer at `key` (0 if absent); the new value.
    fn increment(
        &self,
        bucket: &KvBucket,
        key: String,
        delta: i64,
    ) -> BoxFuture<'static, KvResult<i64>>;
    /// Sets `key` to `value` if it still holds `expected` (`None`: absent).
    fn swap(
        &self,
        bucket: &KvBucket,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'static, KvResult<Swapped>>;
}

/// Buckets in this process's memory: for `wasmq call` and tests. Values
/// live as long as the store; TTLs are not applied.
#[derive(Debug, Default, Clone)]
pub struct MemoryKv {
    data: Arc<Mutex<Buckets>>,
}

/// Every bucket, by (task type, bucket), with its keys in order.
type Buckets = HashMap<(String, String), BTreeMap<String, Vec<u8>>>;

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, bucket: &KvBucket, f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R) -> R {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        f(data
            .entry((bucket.task_type.clone(), bucket.bucket.clone()))
            .or_default())
    }
}

/// Keys per page of [`MemoryKv::list_keys`].
const PAGE: usize = 100;

impl KvStore for MemoryKv {
    fn get(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>> {
        let value = self.with(bucket, |b| b.get(&key).cloned());
        Box::pin(async move { Ok(value) })
    }

    fn set(
        &self,
        bucket: &KvBucket,
        key: String,
        value: Vec<u8>,
    ) -> BoxFuture<'static, KvResult<()>> {
        self.with(bucket, |b| b.insert(key, value));
        Box::pin(async { Ok(()) })
    }

    fn delete(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<()>> {
        self.with(bucket, |b| b.remove(&key));
        Box::pin(async { Ok(()) })
    }

    fn exists(&self, bucket: &KvBucket, key: String) -> BoxFuture<'static, KvResult<bool>> {
        let found = self.with(bucket, |b| b.contains_key(&key));
        Box::pin(async move { Ok(found) })
    }

    fn list_keys(
        &self,
        bucket: &KvBucket,
        cursor: Option<String>,
    ) -> BoxFuture<'static, KvResult<KeyPage>> {
        let page = self.with(bucket, |b| {
            let from = cursor.unwrap_or_default();
            let keys: Vec<String> = b
                .range(from..)
                .map(|(k, _)| k.clone())
                .take(PAGE + 1)
                .collect();
            match keys.len() > PAGE {
                true => (keys[..PAGE].to_vec(), Some(keys[PAGE].clone())),
                false => (keys, None),
            }
        });
        Box::pin(async move { Ok(page) })
    }

    fn increment(
        &self,
        bucket: &KvBucket,
        key: String,
        delta: i64,
    ) -> BoxFuture<'static, KvResult<i64>> {
        let result = self.with(bucket, |b| {
            let current = match b.get(&key) {
                None => 0,
                Some(bytes) => std::str::from_utf8(bytes)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or_else(|| KvError(format!("the value of `{key}` is not an integer")))?,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| KvError(format!("incrementing `{key}` overflows")))?;
            b.insert(key, next.to_string().into_bytes());
            Ok(next)
        });
        Box::pin(async move { result })
    }

    fn swap(
        &self,
        bucket: &KvBucket,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> BoxFuture<'static, KvResult<Swapped>> {
        let swapped = self.with(bucket, |b| {
            let current = b.get(&key).cloned();
            if current == expected {
                b.insert(key, value);
                Swapped::Done
            } else {
                Swapped::Changed(current)
            }
        });
        Box::pin(async move { Ok(swapped) })
    }
}
