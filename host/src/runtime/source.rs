//! A plugin file read once: its bytes, their hash and its manifest.
//!
//! Whatever decides that a plugin changed (its SHA-256) and whatever is
//! compiled must be the same bytes. Reading the file twice, once to hash it
//! and once to compile it, lets a file replaced in between be compiled and
//! served under the hash of the file it replaced, and lets the second read
//! run past the size cap the first one enforced. So a [`PluginFile`] is the
//! result of one bounded read (see
//! [`read_regular_file`](crate::config::read_regular_file)), the hash is
//! computed from the bytes it holds, and
//! [`Runtime::load_file`](super::Runtime::load_file) compiles those bytes
//! and reads nothing from disk.

use super::error::LoadError;
use crate::config::{FileRules, PluginManifest, read_regular_file};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Largest plugin file accepted by default: 256 MiB.
pub const DEFAULT_MAX_PLUGIN_SIZE: u64 = 256 << 20;

/// A plugin's bytes with their SHA-256 and the manifest next to it, as read
/// at one moment. The bytes cannot be changed, so the hash stays theirs.
#[derive(Clone)]
pub struct PluginFile {
    path: PathBuf,
    bytes: Vec<u8>,
    sha256: String,
    manifest: Option<PluginManifest>,
}

impl std::fmt::Debug for PluginFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginFile")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .field("manifest", &self.manifest)
            .finish()
    }
}

impl PluginFile {
    /// Reads the regular file `path` (at most `max` bytes) and its
    /// `<stem>.toml` manifest. With `confine`, each may be a symlink only to
    /// a file inside that directory. A missing plugin is a
    /// [`LoadError::File`] for which [`LoadError::is_not_found`] holds.
    pub fn read(path: &Path, max: u64, confine: Option<&Path>) -> Result<PluginFile, LoadError> {
        let rules = FileRules {
            what: "plugin",
            max,
            confine,
        };
        let bytes = read_regular_file(path, rules)?;
        let manifest = PluginManifest::load_for(path, confine)?;
        Ok(PluginFile::new(path, bytes, manifest))
    }

    /// Wraps bytes obtained elsewhere; `path` names the plugin in messages.
    pub fn new(path: &Path, bytes: Vec<u8>, manifest: Option<PluginManifest>) -> PluginFile {
        PluginFile {
            path: path.to_owned(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
            manifest,
        }
    }

    /// Where the bytes were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The SHA-256 of [`PluginFile::bytes`], in hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The manifest read with the plugin, if there was one.
    pub fn manifest(&self) -> Option<&PluginManifest> {
        self.manifest.as_ref()
    }

    /// The same bytes (and hash) with `manifest` in place of the one read,
    /// as `wasmq call` does with its grant flags: nothing is copied or hashed
    /// again.
    pub fn with_manifest(self, manifest: Option<PluginManifest>) -> PluginFile {
        PluginFile { manifest, ..self }
    }
}
