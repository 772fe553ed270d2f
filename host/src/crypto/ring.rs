//! The key ring: parsed and checked at the edge, so that a bad key fails a
//! process at start with a message naming the entry, not a task later.
//!
//! Format: `id:base64,id:base64` (a file may put one entry per line and
//! `#` comments). Ids are `[A-Za-z0-9_.-]{1,32}`, unique; each key is 32
//! bytes (AES-256) in standard base64. Errors name the entry by its id or
//! position, never by its content.

use aes_gcm::aead::KeyInit;
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine;
use std::fmt;
use thiserror::Error;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Longest key id.
const MAX_ID_LEN: usize = 32;

/// Why a key ring was refused. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// No entry at all.
    #[error("the key ring is empty: give at least one `id:base64-key` entry")]
    Empty,
    /// An entry without the `id:` part.
    #[error("key ring entry {0} is not `id:base64-key`")]
    NoId(usize),
    /// An id outside the allowed characters or length.
    #[error("key id {0:?} is invalid: use 1 to 32 of A-Z a-z 0-9 _ . -")]
    BadId(String),
    /// Two entries with one id.
    #[error("key id `{0}` appears twice in the key ring")]
    Duplicate(String),
    /// The key is not standard base64.
    #[error("key `{0}` is not valid base64")]
    Base64(String),
    /// The key decodes to the wrong number of bytes.
    #[error("key `{id}` is {len} bytes after base64; keys must be {KEY_LEN} bytes")]
    Length {
        /// The key's id.
        id: String,
        /// The decoded length.
        len: usize,
    },
    /// The key file could not be read.
    #[error("cannot read the key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The keys of one process: the first seals, all open.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<(String, [u8; KEY_LEN])>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Parses `id:base64` entries separated by commas or newlines; blank
    /// entries and `#` comment lines are skipped.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, [u8; KEY_LEN])> = Vec::new();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (index, entry) in entries.enumerate() {
            let (id, b64) = entry.split_once(':').ok_or(KeyError::NoId(index + 1))?;
            let id = id.trim();
            if id.is_empty()
                || id.len() > MAX_ID_LEN
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            {
                return Err(KeyError::BadId(id.chars().take(MAX_ID_LEN).collect()));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(KeyError::Duplicate(id.to_owned()));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| KeyError::Base64(id.to_owned()))?;
            let key: [u8; KEY_LEN] = raw.as_slice().try_into().map_err(|_| KeyError::Length {
                id: id.to_owned(),
                len: raw.len(),
            })?;
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    /// Reads a ring from a file in the [`KeyRing::parse`] format.
    pub fn from_file(path: &std::path::Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::File {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Self::parse(&text)
    }

    /// The id of the key that seals.
    pub fn primary_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Every key id, the sealing one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// The cipher of the sealing key, with its id.
    pub(super) fn primary(&self) -> (&str, Aes256Gcm) {
        let (id, key) = &self.keys[0];
        (id, Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
    }

    /// The cipher of key `id`, if the ring holds it.
    pub(super) fn cipher(&self, id: &str) -> Option<Aes256Gcm> {
        self.keys
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, key)| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K0: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    #[test]
    fn parses_rings_in_order() {
        let ring = KeyRing::parse(&format!("k2:{K1}, k1:{K0}")).unwrap();
        assert_eq!(ring.primary_id(), "k2");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        let file = KeyRing::parse(&format!("# rotated in May\nk2:{K1}\n\nk1:{K0}\n")).unwrap();
        assert_eq!(file, ring);
    }

    #[test]
    fn refusals_name_the_entry_never_the_key() {
        let cases = [
            (String::new(), KeyError::Empty),
            ("nocolon".to_owned(), KeyError::NoId(1)),
            (format!("bad id:{K0}"), KeyError::BadId("bad id".into())),
            (format!(":{K0}"), KeyError::BadId(String::new())),
            (format!("a:{K0},a:{K1}"), KeyError::Duplicate("a".into())),
            ("a:not*base64".to_owned(), KeyError::Base64("a".into())),
            (
                "a:c2hvcnQ=".to_owned(),
                KeyError::Length {
                    id: "a".into(),
                    len: 5,
                },
            ),
        ];
        for (text, want) in cases {
            let err = KeyRing::parse(&text).unwrap_err();
            assert_eq!(err, want, "{text}");
            let shown = err.to_string();
            assert!(!shown.contains(K0) && !shown.contains("c2hvcnQ"), "{shown}");
        }
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = KeyRing::parse(&format!("k1:{K1}")).unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("k1") && !shown.contains(K1) && !shown.contains("[1, 1"));
    }
}
