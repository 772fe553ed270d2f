//! Where the broker seals and opens task data (see [`crate::crypto`]).
//!
//! The client holds the process's [`crate::crypto::Encryption`] (from
//! [`super::BrokerOptions::encryption`]), so every producer path that
//! builds a task body (enqueue, flows) and every settlement that stores an
//! output or error goes through the same few calls here, and readers show
//! `encrypted` for what they hold no key for instead of failing.

use super::client::Client;
use crate::crypto::{self, CryptoError, Field, KeyRing};
use crate::error::ValidationError;
use crate::task::{ChildSpec, TaskSpec};

/// What readers show for a value they cannot open.
pub const ENCRYPTED: &str = "encrypted";

impl Client {
    /// The key ring this client opens values with, if any.
    pub fn key_ring(&self) -> Option<&KeyRing> {
        self.inner.opts.encryption.as_ref().map(|e| e.ring())
    }

    /// Whether new values of `queue` are sealed by this client.
    pub fn seals(&self, queue: &str) -> bool {
        self.inner
            .opts
            .encryption
            .as_ref()
            .is_some_and(|e| e.seals(queue))
    }

    /// `value` as stored for `queue`: sealed when this client seals it.
    /// An empty value stays empty: it holds nothing to hide, and a sealed
    /// one would cost Redis 40 bytes per task for nothing.
    pub(crate) fn seal(&self, field: Field, queue: &str, value: &[u8]) -> Vec<u8> {
        match &self.inner.opts.encryption {
            Some(e) if e.seals(queue) && !value.is_empty() => e.ring().seal(field, queue, value),
            _ => value.to_vec(),
        }
    }

    /// An error message as stored for `queue`: sealed, or in clear with a
    /// leading control character replaced so it never reads as sealed.
    pub(crate) fn seal_error(&self, queue: &str, message: &str) -> String {
        match &self.inner.opts.encryption {
            Some(e) if e.seals(queue) => e.ring().seal_text(Field::Error, queue, message),
            _ if message.starts_with('\x01') => format!("_{}", &message[1..]),
            _ => message.to_owned(),
        }
    }

    /// Refuses a clear payload that would read as sealed.
    pub(crate) fn check_sealable(&self, spec: &TaskSpec) -> Result<(), ValidationError> {
        if self.seals(&spec.queue) || !crypto::is_sealed(&spec.payload) {
            return Ok(());
        }
        Err(ValidationError::TaskOption {
            queue: spec.queue.clone(),
            field: "payload",
            reason: "starts with the bytes that mark an encrypted value (\\x01wqe1:); \
                     enqueue it with encryption on, or change its first byte"
                .into(),
        })
    }

    /// Child tasks as their parent's ack stores them: each payload sealed
    /// when this client seals the child's queue.
    pub(crate) fn seal_children<'a>(
        &self,
        children: &'a [ChildSpec],
    ) -> std::borrow::Cow<'a, [ChildSpec]> {
        if !children.iter().any(|c| self.seals(c.id.queue())) {
            return std::borrow::Cow::Borrowed(children);
        }
        let sealed = children
            .iter()
            .map(|c| ChildSpec {
                payload: self.seal(Field::Payload, c.id.queue(), &c.payload),
                ..c.clone()
            })
            .collect();
        std::borrow::Cow::Owned(sealed)
    }

    /// Opens a stored payload for a run: a clear one comes back as it is;
    /// a sealed one needs a key of this client's ring.
    pub fn open_payload(&self, queue: &str, payload: &[u8]) -> Result<Vec<u8>, CryptoError> {
        crypto::open(self.key_ring(), Field::Payload, queue, payload)
    }

    /// Opens a stored output for a reader; `(b"encrypted", true)` when it
    /// cannot.
    pub(crate) fn open_output(&self, queue: &str, output: Vec<u8>) -> (Vec<u8>, bool) {
        if !crypto::is_sealed(&output) {
            return (output, false);
        }
        match crypto::open(self.key_ring(), Field::Output, queue, &output) {
            Ok(plain) => (plain, false),
            Err(_) => (ENCRYPTED.as_bytes().to_vec(), true),
        }
    }

    /// Opens a stored error message for a reader; `encrypted` when it
    /// cannot.
    pub(crate) fn open_error(&self, queue: &str, error: Option<String>) -> Option<String> {
        error.map(|e| {
            crypto::open_text(self.key_ring(), Field::Error, queue, &e)
                .unwrap_or_else(|_| ENCRYPTED.to_owned())
        })
    }
}
