//! Plugins distributed through Redis: `wasmq plugins push`, `history`,
//! `rollback`, and what hosts read to follow them.
//!
//! Once hosts run on many machines, "copy the file into every plugins
//! directory" needs a shared file system; Redis is already shared. A pushed
//! module is stored content-addressed (its SHA-256 names its body, so a
//! version pushed again costs no upload), in [`CHUNK_SIZE`] chunks so no
//! single command carries tens of megabytes, with its manifest text in the
//! version's record. Every key of one task type carries the hash tag
//! `{plugin:<type>}`, so on Cluster one script sees them all:
//!
//! * the pusher uploads the chunks to a staging hash that expires, then
//!   `plugin_push.lua` checks it is whole, renames it to the body, records
//!   the version, moves `current` and forgets versions past
//!   [`HISTORY_KEEP`], all in one step: nothing is half-written, and a
//!   pusher that dies mid-upload leaves only a staging hash that expires;
//! * `plugin_rollback.lua` moves `current` back to a kept version;
//! * `plugin_remove.lua` deletes every version and body and clears
//!   `current`, keeping the version and move counters, so numbers are never
//!   reused and the board's removal entry (version 0) orders before a later
//!   push's;
//! * after either, `plugin_board.lua` records the move on the namespace's
//!   board (`{plugins}`, another slot, so it cannot be the same script) and
//!   the type is published on `<ns>:plugins`. Hosts follow the notices and,
//!   in case one was lost, read the whole board once per period: one
//!   `HGETALL`, whatever the number of types. A push that died between its
//!   script and the board is finished by pushing again (a no-op but for
//!   the board and the notice).
//!
//! The broker knows no wasm: whether a module loads is the pusher's check
//! (`wasmq plugins push` loads it as a host would first) and the host's.
//! What is checked here is every size, count and name, before Redis.

mod chunks;
mod push;
mod read;

pub use chunks::{CHUNK_SIZE, Reassembly};

use super::client::Client;
use super::error::BrokerError;
use crate::error::{ValidationError, validate_namespace, validate_queue_name};
use serde::Serialize;
use std::time::Duration;

/// Versions kept per task type (the current one is kept even when older).
pub const HISTORY_KEEP: usize = 20;

/// How long an upload may take before its staging hash expires.
const STAGING_TTL: Duration = Duration::from_secs(3600);

/// Chunks read per `HMGET` when downloading (4 MiB per reply).
const CHUNKS_PER_READ: usize = 4;

/// How often a push retries when other pushes of the type change the kept
/// versions between its read and its script.
const PUSH_ATTEMPTS: usize = 5;

/// What went wrong with a pushed plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginStoreError {
    /// Redis failed, or a name was invalid.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The module or manifest is too large, or empty.
    #[error("{0}")]
    Refused(String),
    /// No plugin is pushed for the type: never, or it was removed.
    #[error(
        "no plugin is pushed for task type `{task_type}` (never pushed, or removed); push one with `wasmq plugins push {task_type}.wasm`"
    )]
    UnknownType {
        /// The task type.
        task_type: String,
    },
    /// The version asked for is not (or no longer) kept.
    #[error(
        "task type `{task_type}` has no version {version}; the versions kept are {}",
        list(kept)
    )]
    UnknownVersion {
        /// The task type.
        task_type: String,
        /// The version asked for.
        version: u64,
        /// The versions kept.
        kept: Vec<u64>,
    },
    /// A rollback with no version named, from the oldest kept version.
    #[error(
        "task type `{task_type}` has no version older than its current version {current}; name one with `wasmq plugins rollback {task_type} VERSION`"
    )]
    NoOlderVersion {
        /// The task type.
        task_type: String,
        /// Its current version.
        current: u64,
    },
    /// A stored module is incomplete or does not match its record.
    #[error(
        "pushed plugin `{task_type}` version {version} is damaged in Redis: {problem}; push it again"
    )]
    Damaged {
        /// The task type.
        task_type: String,
        /// The version.
        version: u64,
        /// What is wrong.
        problem: Reassembly,
    },
}

fn list(versions: &[u64]) -> String {
    let shown: Vec<String> = versions.iter().map(u64::to_string).collect();
    if shown.is_empty() {
        "none".to_owned()
    } else {
        shown.join(", ")
    }
}

type StoreResult<T> = Result<T, PluginStoreError>;

/// One stored version of a pushed plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushedVersion {
    /// Its number, from 1, never reused for the type.
    pub version: u64,
    /// SHA-256 of the module, in hex.
    pub sha256: String,
    /// Module bytes.
    pub size: u64,
    /// How many chunks hold it.
    pub chunks: usize,
    /// When it was pushed (Redis's clock, ms since the epoch).
    pub pushed_at_ms: u64,
    /// The `<type>.toml` pushed with it, if any.
    pub manifest: Option<String>,
}

/// A task type's kept versions, newest first, and which is current.
#[derive(Debug, Clone, Serialize)]
pub struct PluginHistory {
    /// The task type.
    pub task_type: String,
    /// The version hosts run.
    pub current: u64,
    /// Kept versions, newest first.
    pub versions: Vec<PushedVersion>,
}

/// Where a type's current pointer stands, as the board records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardEntry {
    /// Pointer moves so far (grows with every push, rollback and removal).
    pub moves: u64,
    /// The current version; 0 once the type was removed.
    pub version: u64,
    /// Its SHA-256 (empty once removed).
    pub sha256: String,
}

impl BoardEntry {
    /// Whether the type was removed (`wasmq plugins remove`) after its
    /// last push.
    pub fn is_removed(&self) -> bool {
        self.version == 0
    }
}

/// What a push or rollback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PointerMove {
    /// The version now current.
    pub version: u64,
    /// False when it was current already (nothing changed).
    pub moved: bool,
}

/// The keys of one task type's pushed plugin.
#[derive(Debug, Clone)]
pub(crate) struct PluginKeys {
    prefix: String,
    head: String,
    versions: String,
}

impl PluginKeys {
    fn new(ns: &str, task_type: &str) -> Result<Self, ValidationError> {
        validate_namespace(ns)?;
        validate_queue_name(task_type)?;
        let prefix = format!("{ns}:{{plugin:{task_type}}}:");
        Ok(PluginKeys {
            head: format!("{prefix}head"),
            versions: format!("{prefix}versions"),
            prefix,
        })
    }

    fn body(&self, sha256: &str) -> String {
        format!("{}body:{sha256}", self.prefix)
    }

    fn staging(&self, id: &str) -> String {
        format!("{}up:{id}", self.prefix)
    }
}

/// The board key and the notice channel of namespace `ns`.
pub(crate) fn board_key(ns: &str) -> String {
    format!("{ns}:{{plugins}}:board")
}

/// The channel on which pushes and rollbacks announce their task type.
pub(crate) fn notice_channel(ns: &str) -> String {
    format!("{ns}:plugins")
}

impl Client {
    fn plugin_keys(&self, task_type: &str) -> StoreResult<PluginKeys> {
        PluginKeys::new(&self.options().namespace, task_type)
            .map_err(|e| PluginStoreError::Broker(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_keeps_its_keys_in_one_slot() {
        let keys = PluginKeys::new("wasmq", "echo").unwrap();
        let slot = super::super::keys::hash_slot(&keys.head);
        for key in [&keys.versions, &keys.body("ab"), &keys.staging("x")] {
            assert_eq!(super::super::keys::hash_slot(key), slot, "{key}");
        }
        assert_eq!(keys.head, "wasmq:{plugin:echo}:head");
        assert!(PluginKeys::new("wasmq", "bad{type}").is_err());
    }
}
