//! The on-disk cache of compiled plugins.
//!
//! Compiling a plugin with Cranelift takes from tens of milliseconds to
//! seconds; loading the precompiled artifact takes about a millisecond. A
//! host that restarts, or a `wasmq call` run twice, should not pay the
//! compile again.
//!
//! An artifact's name is `sha256(plugin bytes)` plus a hash of everything
//! in the engine that affects compiled code
//! (`Engine::precompile_compatibility_hash`), so a changed plugin, a new
//! wasmtime or different engine settings simply miss. Files are written to a
//! temporary name and renamed into place, so a reader never sees a partial
//! artifact; an unreadable or corrupt artifact is recompiled and replaced.
//!
//! The directory is bounded (`RuntimeOptions::cache_max_bytes`): nothing
//! else ever deletes an artifact, and a JavaScript or Python plugin, whose
//! build is not byte-for-byte reproducible, leaves a 40-60 MB artifact
//! behind on every rebuild. After each store the least recently used
//! artifacts go until the directory fits ([`evict`]); a cache hit refreshes
//! its artifact's time, so what hosts keep loading stays.

use super::error::RuntimeError;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use wasmtime::Engine;

/// A directory of precompiled artifacts for one engine configuration.
#[derive(Debug)]
pub(crate) struct DiskCache {
    dir: PathBuf,
    engine_hash: String,
    max_bytes: u64,
}

impl DiskCache {
    /// Opens (creating if needed) the cache directory.
    pub fn open(dir: PathBuf, engine: &Engine, max_bytes: u64) -> Result<Self, RuntimeError> {
        std::fs::create_dir_all(&dir).map_err(|source| RuntimeError::CacheDir {
            path: dir.clone(),
            source,
        })?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir,
            engine_hash: format!("{:016x}", hasher.finish()),
            max_bytes,
        })
    }

    /// The directory holding the artifacts.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact for plugin bytes with this sha256 lives.
    pub fn artifact_path(&self, sha256_hex: &str, extension: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256_hex}-{}.{extension}", self.engine_hash))
    }

    /// Writes an artifact atomically: to a temp file in the same directory,
    /// then renamed over the final name.
    pub fn store(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir)?;
        temp.write_all(bytes)?;
        temp.as_file().sync_data()?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Artifacts (and temp files left by a crash) in `dir`, least recently
/// used first: `(path, size, modified)`.
fn entries(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, SystemTime)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.ends_with(".cwasm") || name.starts_with(".tmp");
        let meta = match entry.metadata() {
            Ok(meta) if ours && meta.is_file() => meta,
            // Another host removed it meanwhile, or it is not ours.
            _ => continue,
        };
        found.push((entry.path(), meta.len(), meta.modified()?));
    }
    found.sort_by_key(|(_, _, modified)| *modified);
    Ok(found)
}

/// Removes the least recently used artifacts of `dir` until the rest fit
/// in `max_bytes`, never `keep` (the one just stored). Returns the paths
/// removed. A file another host removed first is not an error.
pub(crate) fn evict(dir: &Path, max_bytes: u64, keep: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = entries(dir)?;
    let mut total: u64 = entries.iter().map(|(_, size, _)| size).sum();
    let mut removed = Vec::new();
    for (path, size, _) in entries {
        if total <= max_bytes {
            break;
        }
        if path == keep {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        total -= size;
    }
    Ok(removed)
}

/// Marks an artifact as just used, for [`evict`]; failing only costs it
/// its place in the order.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Compiled code that can be cached: a component or a core module.
pub(crate) trait Artifact: Sized {
    /// The artifact file extension, distinct per kind.
    const EXTENSION: &'static str;
    /// "component" or "module", for messages.
    const KIND: &'static str;
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self>;
    fn to_bytes(&self) -> wasmtime::Result<Vec<u8>>;
    fn from_artifact(engine: &Engine, path: &Path) -> wasmtime::Result<Self>;
}

/// Implements [`Artifact`] for a wasmtime code type; components and core
/// modules share the whole API (`new`, `serialize`, `deserialize`) and
/// differ only in the file extension and the name used in messages.
macro_rules! artifact {
    ($ty:ty, $extension:literal, $kind:literal) => {
        impl Artifact for $ty {
            const EXTENSION: &'static str = $extension;
            const KIND: &'static str = $kind;

            fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
                Self::new(engine, bytes)
            }

            fn to_bytes(&self) -> wasmtime::Result<Vec<u8>> {
                self.serialize()
            }

            #[allow(unsafe_code)]
            fn from_artifact(engine: &Engine, path: &Path) -> wasmtime::Result<Self> {
                let bytes = std::fs::read(path)?;
                // SAFETY: deserializing trusts the bytes to be wasmtime
                // output. This file was written by `DiskCache::store` from
                // this type's own `serialize`, atomically (temp file +
                // rename), in a directory the host owns; its name pins the
                // source sha256 and the engine's compatibility hash, and
                // wasmtime still checks the header, version and engine
                // settings, failing (not misbehaving) on a mismatch. The
                // bytes are read into memory rather than mapped, so a file
                // changed or truncated later cannot pull code from under a
                // running plugin.
                unsafe { Self::deserialize(engine, bytes) }
            }
        }
    };
}

artifact!(
    wasmtime::component::Component,
    "component.cwasm",
    "component"
);
artifact!(wasmtime::Module, "module.cwasm", "module");

/// The artifact for `bytes` from the cache if it is there and loads, else
/// compiled (and stored). Returns whether it came from the cache.
///
/// Cache problems never fail a load: a corrupt artifact is recompiled and
/// replaced, an unwritable cache only costs the next start a compile.
pub(crate) fn load_or_compile<A: Artifact>(
    cache: Option<&DiskCache>,
    engine: &Engine,
    task_type: &str,
    sha256: &str,
    bytes: &[u8],
) -> wasmtime::Result<(A, bool)> {
    let path = cache.map(|cache| cache.artifact_path(sha256, A::EXTENSION));
    if let Some(path) = path.as_deref().filter(|path| path.exists()) {
        match A::from_artifact(engine, path) {
            Ok(artifact) => {
                touch(path);
                metrics::counter!("wasmq_plugin_cache_hits_total", "task_type" => task_type.to_owned())
                    .increment(1);
                tracing::info!(task_type, artifact = %path.display(), "loaded compiled plugin from the cache");
                return Ok((artifact, true));
            }
            Err(e) => tracing::warn!(
                task_type,
                artifact = %path.display(),
                "cached artifact is unusable, recompiling: {e:#}"
            ),
        }
    }
    let started = std::time::Instant::now();
    let artifact = A::compile(engine, bytes)?;
    metrics::counter!("wasmq_plugin_compiles_total", "task_type" => task_type.to_owned())
        .increment(1);
    metrics::histogram!("wasmq_plugin_compile_seconds", "task_type" => task_type.to_owned())
        .record(started.elapsed().as_secs_f64());
    tracing::info!(
        task_type,
        kind = A::KIND,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "compiled plugin"
    );
    if let (Some(cache), Some(path)) = (cache, path) {
        let stored = artifact
            .to_bytes()
            .map_err(std::io::Error::other)
            .and_then(|b| cache.store(&path, &b));
        if let Err(e) = stored {
            tracing::warn!(task_type, artifact = %path.display(), "cannot write the compile cache: {e}");
        }
        match evict(cache.dir(), cache.max_bytes, &path) {
            Ok(removed) if !removed.is_empty() => tracing::info!(
                task_type,
                removed = removed.len(),
                max_bytes = cache.max_bytes,
                "evicted the least recently used compiled plugins from the cache"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(task_type, dir = %cache.dir().display(), "cannot evict from the compile cache: {e}")
            }
        }
    }
    Ok((artifact, false))
}

#[cfg(test)]
mod tests;
