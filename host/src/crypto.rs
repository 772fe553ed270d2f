//! Encryption at rest of task payloads, outputs and error texts.
//!
//! Redis keeps everything in clear text: a dump, a replica or an `RDB` copied
//! off a server shows every payload. Producers therefore seal a payload with
//! an AEAD (AES-256-GCM) before its body reaches Redis, hosts open it just
//! before the run and seal the output and the error text before the ack, and
//! readers open what they hold a key for. Redis only ever sees ciphertext;
//! the record headers the Lua scripts read (priority, retries, times) stay in
//! clear, since they are not data and the scripts need them.
//!
//! Keys form a [`KeyRing`] (`WASMQ_KEYS=k2:<base64>,k1:<base64>`): the first
//! key seals, every key opens, and each sealed value names its key, so a
//! ring can be rotated (add a key in front, run `wasmq keys rotate`, drop the
//! old one). [`Encryption`] adds which queues are sealed
//! (`WASMQ_ENCRYPT_QUEUES`; all by default).
//!
//! This module is a leaf: it knows nothing of Redis, wasm or the CLI. Key
//! material never appears in a `Debug`, `Display` or error text: only key
//! ids do.

mod envelope;
mod ring;

pub use envelope::{Field, MAGIC, MAGIC_TEXT, is_sealed, is_sealed_text, sealed_key_id};
pub use ring::{KEY_LEN, KeyError, KeyRing};

use std::collections::BTreeSet;
use std::sync::Arc;
use thiserror::Error;

/// Why a sealed value could not be opened. Names key ids, never keys.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// The value is sealed but this process holds no key ring.
    #[error(
        "the value is encrypted (key `{0}`) and no keys are configured (WASMQ_KEYS or WASMQ_KEYS_FILE)"
    )]
    NoKeys(String),
    /// The value names a key the ring does not hold.
    #[error("the value is encrypted with key `{0}`, which the key ring does not hold")]
    UnknownKey(String),
    /// The value starts like a sealed one but is cut or garbled.
    #[error("the encrypted value is malformed")]
    Malformed,
    /// Authentication failed: a wrong key under the right id, or the value
    /// (or the queue it was sealed for) was altered.
    #[error(
        "the encrypted value does not authenticate with key `{0}` (wrong key, or the value was altered)"
    )]
    Tampered(String),
}

/// Which values this process seals, and with which keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    ring: Arc<KeyRing>,
    queues: Option<BTreeSet<String>>,
}

impl Encryption {
    /// Seals every queue's values with `ring`, or only those of `queues`
    /// when it is given (`WASMQ_ENCRYPT_QUEUES`).
    pub fn new(ring: KeyRing, queues: Option<BTreeSet<String>>) -> Self {
        Self {
            ring: Arc::new(ring),
            queues,
        }
    }

    /// The key ring (for opening, which is never narrowed by queue).
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Whether new values of `queue` are sealed.
    pub fn seals(&self, queue: &str) -> bool {
        self.queues.as_ref().is_none_or(|q| q.contains(queue))
    }

    /// Parses `WASMQ_ENCRYPT_QUEUES` (`a,b`); empty means every queue.
    pub fn parse_queues(text: &str) -> Option<BTreeSet<String>> {
        let set: BTreeSet<String> = text
            .split(',')
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned)
            .collect();
        (!set.is_empty()).then_some(set)
    }
}

/// Opens `value` if it is sealed, with `ring` if there is one; a value that
/// is not sealed comes back as it is.
pub fn open(
    ring: Option<&KeyRing>,
    field: Field,
    queue: &str,
    value: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if !is_sealed(value) {
        return Ok(value.to_vec());
    }
    match ring {
        Some(ring) => ring.open(field, queue, value),
        None => Err(CryptoError::NoKeys(
            sealed_key_id(value).unwrap_or("?").to_owned(),
        )),
    }
}

/// [`open`] for text fields (error messages).
pub fn open_text(
    ring: Option<&KeyRing>,
    field: Field,
    queue: &str,
    value: &str,
) -> Result<String, CryptoError> {
    if !is_sealed_text(value) {
        return Ok(value.to_owned());
    }
    match ring {
        Some(ring) => ring.open_text(field, queue, value),
        None => Err(CryptoError::NoKeys(
            sealed_key_id(value.as_bytes()).unwrap_or("?").to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_narrow_sealing() {
        let ring = KeyRing::parse("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let all = Encryption::new(ring.clone(), Encryption::parse_queues(" , "));
        assert!(all.seals("a") && all.seals("b"));
        let some = Encryption::new(ring, Encryption::parse_queues("a, c"));
        assert!(some.seals("a") && some.seals("c") && !some.seals("b"));
    }

    #[test]
    fn plain_values_pass_and_sealed_ones_need_a_key() {
        assert_eq!(open(None, Field::Output, "q", b"hi").unwrap(), b"hi");
        let ring = KeyRing::parse("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let sealed = ring.seal(Field::Output, "q", b"hi");
        assert_eq!(
            open(None, Field::Output, "q", &sealed),
            Err(CryptoError::NoKeys("k1".into()))
        );
        let text = ring.seal_text(Field::Error, "q", "boom");
        assert!(open_text(None, Field::Error, "q", &text).is_err());
        assert_eq!(
            open_text(Some(&ring), Field::Error, "q", &text).unwrap(),
            "boom"
        );
    }
}
