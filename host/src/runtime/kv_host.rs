//! The host side of `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch):
//! grants and bounds are checked here, then each call goes to the
//! [`KvStore`] the runtime was given.
//!
//! `open` succeeds only for a bucket named in the plugin's
//! `[capabilities] kv` (else `access-denied`); every key is at most
//! [`MAX_KEY_LEN`] bytes and every value at most the plugin's
//! `kv_max_value`, refused before anything reaches the store.

use super::kv::{KvBucket, KvStore, Swapped};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasData, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::BucketHandle,
            "wasi:keyvalue/atomics.cas": super::CasHandle,
        },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// An open bucket, as the guest holds it.
pub struct BucketHandle(KvBucket);

/// A compare-and-swap in progress: the value seen when it began.
pub struct CasHandle {
    bucket: KvBucket,
    key: String,
    seen: Option<Vec<u8>>,
}

/// What a plugin's runs may do with key-value storage, fixed at load.
#[derive(Clone, Default)]
pub(crate) struct KvGrant {
    /// The granted bucket names.
    pub buckets: Arc<Vec<String>>,
    /// Largest value, bytes.
    pub max_value: u64,
    /// Per-bucket expiry after the last write.
    pub ttl: Arc<BTreeMap<String, Duration>>,
}

/// The key-value state of one run.
pub(crate) struct KvCtx {
    pub grant: KvGrant,
    pub task_type: Arc<str>,
    pub store: Option<Arc<dyn KvStore>>,
}

/// The view the generated bindings work on: the run's state and its table.
pub(crate) struct KvView<'a> {
    pub ctx: &'a mut KvCtx,
    pub table: &'a mut ResourceTable,
}

/// Selects [`KvView`] for `add_to_linker`.
pub(crate) struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

/// Adds the three interfaces to `linker`, viewing a store state through `view`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<T, HasKv>(linker, view)?;
    atomics::add_to_linker::<T, HasKv>(linker, view)?;
    batch::add_to_linker::<T, HasKv>(linker, view)
}

type Res<T> = wasmtime::Result<Result<T, store::Error>>;

fn other(message: impl Into<String>) -> store::Error {
    store::Error::Other(message.into())
}

impl KvView<'_> {
    fn store(&self) -> Result<Arc<dyn KvStore>, store::Error> {
        self.ctx
            .store
            .clone()
            .ok_or_else(|| other("this host has no key-value store attached"))
    }

    fn bucket(&self, handle: &Resource<BucketHandle>) -> wasmtime::Result<KvBucket> {
        Ok(self.table.get(handle)?.0.clone())
    }

    fn check_key(key: &str) -> Result<(), store::Error> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(other(format!(
                "a key must be 1 to {MAX_KEY_LEN} bytes, got {}",
                key.len()
            )));
        }
        Ok(())
    }

    fn check_value(&self, value: &[u8]) -> Result<(), store::Error> {
        if value.len() as u64 > self.ctx.grant.max_value {
            return Err(other(format!(
                "a value of {} bytes is over the plugin's kv_max_value of {} bytes",
                value.len(),
                self.ctx.grant.max_value
            )));
        }
        Ok(())
    }
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Res<Resource<BucketHandle>> {
        if !self.ctx.grant.buckets.contains(&identifier) {
            return Ok(Err(store::Error::AccessDenied));
        }
        let bucket = KvBucket {
            task_type: self.ctx.task_type.to_string(),
            ttl: self.ctx.grant.ttl.get(&identifier).copied(),
            bucket: identifier,
        };
        Ok(Ok(self.table.push(BucketHandle(bucket))?))
    }
}

/// Awaits a store call and maps its error to the guest's `other`.
macro_rules! call {
    ($view:expr, $bucket:expr, |$s:ident, $b:ident| $body:expr) => {{
        let $s = match $view.store() {
            Ok(store) => store,
            Err(e) => return Ok(Err(e)),
        };
        let $b = &$bucket;
        Ok($body.await.map_err(|e| other(e.0)))
    }};
}

impl store::HostBucket for KvView<'_> {
    async fn get(&mut self, this: Resource<BucketHandle>, key: String) -> Res<Option<Vec<u8>>> {
        let bucket = self.bucket(&this)?;
        if let Err(e) = Self::check_key(&key) {
            return Ok(Err(e));
        }
        call!(self, bucket, |s, b| s.get(b, key))
    }

    async fn set(&mut self, this: Resource<BucketHandle>, key: String, value: Vec<u8>) -> Res<()> {
        let bucket = self.bucket(&this)?;
        if let Err(e) = Self::check_key(&key).and_then(|()| self.check_value(&value)) {
            return Ok(Err(e));
        }
        call!(self, bucket, |s, b| s.set(b, key, value))
    }

    async fn delete(&mut self, this: Resource<BucketHandle>, key: String) -> Res<()> {
        let bucket = self.bucket(&this)?;
        if let Err(e) = Self::check_key(&key) {
            return Ok(Err(e));
        }
        call!(self, bucket, |s, b| s.delete(b, key))
    }

    async fn exists(&mut self, this: Resource<BucketHandle>, key: String) -> Res<bool> {
        let bucket = self.bucket(&this)?;
        if let Err(e) = Self::check_key(&key) {
            return Ok(Err(e));
        }
        call!(self, bucket, |s, b| s.exists(b, key))
    }

    async fn list_keys(
        &mut self,
        this: Resource<BucketHandle>,
        cursor: Option<String>,
    ) -> Res<store::KeyResponse> {
        let bucket = self.bucket(&this)?;
        let page: Res<(Vec<String>, Option<String>)> =
            call!(self, bucket, |s, b| s.list_keys(b, cursor));
        Ok(page?.map(|(keys, cursor)| store::KeyResponse { keys, cursor }))
    }

    async fn drop(&mut self, this: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl atomics::HostCas for KvView<'_> {
    async fn new(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> Res<Resource<CasHandle>> {
        let bucket = self.bucket(&bucket)?;
        if let Err(e) = Self::check_key(&key) {
            return Ok(Err(e));
        }
        let seen: Res<Option<Vec<u8>>> = call!(self, bucket, |s, b| s.get(b, key.clone()));
        match seen? {
            Ok(seen) => Ok(Ok(self.table.push(CasHandle { bucket, key, seen })?)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn current(&mut self, this: Resource<CasHandle>) -> Res<Option<Vec<u8>>> {
        Ok(Ok(self.table.get(&this)?.seen.clone()))
    }

    async fn drop(&mut self, this: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        delta: i64,
    ) -> Res<i64> {
        let bucket = self.bucket(&bucket)?;
        if let Err(e) = Self::check_key(&key) {
            return Ok(Err(e));
        }
        call!(self, bucket, |s, b| s.increment(b, key, delta))
    }

    async fn swap(
        &mut self,
        cas: Resource<CasHandle>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let CasHandle { bucket, key, seen } = self.table.delete(cas)?;
        if let Err(e) = self.check_value(&value) {
            return Ok(Err(atomics::CasError::StoreError(e)));
        }
        let store = match self.store() {
            Ok(store) => store,
            Err(e) => return Ok(Err(atomics::CasError::StoreError(e))),
        };
        match store.swap(&bucket, key.clone(), seen, value).await {
            Ok(Swapped::Done) => Ok(Ok(())),
            Ok(Swapped::Changed(now)) => {
                let retry = self.table.push(CasHandle {
                    bucket,
                    key,
                    seen: now,
                })?;
                Ok(Err(atomics::CasError::CasFailed(retry)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(other(e.0)))),
        }
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Res<Vec<Option<(String, Vec<u8>)>>> {
        let bucket = self.bucket(&bucket)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Err(e) = Self::check_key(&key) {
                return Ok(Err(e));
            }
            let value: Res<Option<Vec<u8>>> = call!(self, bucket, |s, b| s.get(b, key.clone()));
            match value? {
                Ok(value) => out.push(value.map(|v| (key, v))),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(out))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Res<()> {
        let bucket = self.bucket(&bucket)?;
        for (key, value) in key_values {
            if let Err(e) = Self::check_key(&key).and_then(|()| self.check_value(&value)) {
                return Ok(Err(e));
            }
            let done: Res<()> = call!(self, bucket, |s, b| s.set(b, key, value));
            if let Err(e) = done? {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&mut self, bucket: Resource<BucketHandle>, keys: Vec<String>) -> Res<()> {
        let bucket = self.bucket(&bucket)?;
        for key in keys {
            if let Err(e) = Self::check_key(&key) {
                return Ok(Err(e));
            }
            let done: Res<()> = call!(self, bucket, |s, b| s.delete(b, key));
            if let Err(e) = done? {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}
