//! Key-value buckets (`wasi:keyvalue`), kept by the host in its Redis,
//! for handlers whose manifest grants them:
//!
//! ```toml
//! # <type>.toml
//! [capabilities]
//! kv = ["thumbnails"]
//! kv_max_value = "4MiB"                  # optional (default 1 MiB)
//! kv_ttl = { thumbnails = "7d" }         # optional: expire after the last write
//! ```
//!
//! ```no_run
//! use wasmq_plugin_sdk::{kv, Output, Task, TaskError};
//!
//! #[wasmq_plugin_sdk::handler]
//! fn count(task: Task) -> Result<Output, TaskError> {
//!     let seen = kv::Bucket::open("thumbnails")?.increment("visits", 1)?;
//!     Ok(Output::text(seen.to_string()))
//! }
//! # fn main() {}
//! ```
//!
//! A bucket belongs to the plugin: another plugin's bucket of the same name
//! is another bucket. `increment` is atomic across hosts and runs.
//!
//! Natively (unit tests), buckets live in this process's memory.

use crate::TaskError;

/// Why a bucket operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The manifest does not grant this bucket.
    AccessDenied(String),
    /// The host refused or failed the operation (a value over the cap, a
    /// key too long, Redis unreachable...), with its reason.
    Failed(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::AccessDenied(bucket) => write!(
                f,
                "bucket `{bucket}` is not granted: add it to [capabilities] kv in the plugin's manifest"
            ),
            KvError::Failed(why) => write!(f, "key-value operation failed: {why}"),
        }
    }
}

impl std::error::Error for KvError {}

impl From<KvError> for TaskError {
    fn from(error: KvError) -> Self {
        match error {
            KvError::AccessDenied(_) => TaskError::permanent(error.to_string()),
            KvError::Failed(_) => TaskError::retryable(error.to_string()),
        }
    }
}

/// An open bucket.
pub struct Bucket {
    inner: imp::Bucket,
}

impl Bucket {
    /// Opens the bucket `name` (it must be granted).
    pub fn open(name: &str) -> Result<Bucket, KvError> {
        imp::Bucket::open(name).map(|inner| Bucket { inner })
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.get(key)
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.inner.set(key, value)
    }

    /// Removes `key` (nothing happens if it is absent).
    pub fn delete(&self, key: &str) -> Result<(), KvError> {
        self.inner.delete(key)
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.inner.exists(key)
    }

    /// Every key, page by page (in no particular order).
    pub fn keys(&self) -> Result<Vec<String>, KvError> {
        self.inner.keys()
    }

    /// Adds `delta` to the integer at `key` (0 if absent), atomically;
    /// returns the new value.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.inner.increment(key, delta)
    }
}

#[cfg(target_family = "wasm")]
mod imp {
    use super::KvError;
    use crate::capability_bindings::wasi::keyvalue::{atomics, store};

    pub struct Bucket(store::Bucket);

    fn error(e: store::Error, bucket: &str) -> KvError {
        match e {
            store::Error::AccessDenied | store::Error::NoSuchStore => {
                KvError::AccessDenied(bucket.to_owned())
            }
            store::Error::Other(why) => KvError::Failed(why),
        }
    }

    impl Bucket {
        pub fn open(name: &str) -> Result<Bucket, KvError> {
            store::open(name).map(Bucket).map_err(|e| error(e, name))
        }
        pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            self.0.get(key).map_err(|e| error(e, ""))
        }
        pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            self.0.set(key, value).map_err(|e| error(e, ""))
        }
        pub fn delete(&self, key: &str) -> Result<(), KvError> {
            self.0.delete(key).map_err(|e| error(e, ""))
        }
        pub fn exists(&self, key: &str) -> Result<bool, KvError> {
            self.0.exists(key).map_err(|e| error(e, ""))
        }
        pub fn keys(&self) -> Result<Vec<String>, KvError> {
            let mut all = Vec::new();
            let mut cursor = None;
            loop {
                let page = self
                    .0
                    .list_keys(cursor.as_deref())
                    .map_err(|e| error(e, ""))?;
                all.extend(page.keys);
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => return Ok(all),
                }
            }
        }
        pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
            atomics::increment(&self.0, key, delta).map_err(|e| error(e, ""))
        }
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    use super::KvError;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static DATA: Mutex<BTreeMap<(String, String), Vec<u8>>> = Mutex::new(BTreeMap::new());

    pub struct Bucket(String);

    fn data() -> std::sync::MutexGuard<'static, BTreeMap<(String, String), Vec<u8>>> {
        DATA.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl Bucket {
        pub fn open(name: &str) -> Result<Bucket, KvError> {
            Ok(Bucket(name.to_owned()))
        }
        fn at(&self, key: &str) -> (String, String) {
            (self.0.clone(), key.to_owned())
        }
        pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
            Ok(data().get(&self.at(key)).cloned())
        }
        pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
            data().insert(self.at(key), value.to_vec());
            Ok(())
        }
        pub fn delete(&self, key: &str) -> Result<(), KvError> {
            data().remove(&self.at(key));
            Ok(())
        }
        pub fn exists(&self, key: &str) -> Result<bool, KvError> {
            Ok(data().contains_key(&self.at(key)))
        }
        pub fn keys(&self) -> Result<Vec<String>, KvError> {
            Ok(data()
                .keys()
                .filter(|(b, _)| *b == self.0)
                .map(|(_, k)| k.clone())
                .collect())
        }
        pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
            let mut data = data();
            let current = match data.get(&self.at(key)) {
                None => 0,
                Some(v) => String::from_utf8_lossy(v)
                    .parse::<i64>()
                    .map_err(|_| KvError::Failed(format!("`{key}` is not an integer")))?,
            };
            let next = current + delta;
            data.insert(self.at(key), next.to_string().into_bytes());
            Ok(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_buckets_live_in_memory() {
        let bucket = Bucket::open("native-test").unwrap();
        assert_eq!(bucket.get("a").unwrap(), None);
        bucket.set("a", b"1").unwrap();
        assert_eq!(bucket.increment("a", 41).unwrap(), 42);
        assert_eq!(bucket.keys().unwrap(), ["a"]);
        bucket.delete("a").unwrap();
        assert!(!bucket.exists("a").unwrap());
    }
}
