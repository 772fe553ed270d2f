//! Where a process's encryption keys come from: flags and environment, read
//! once at start and checked there (see [`crate::crypto`]).
//!
//! The ring comes from `WASMQ_KEYS` (`k2:<base64>,k1:<base64>`) or, better,
//! from a file named by `--keys-file` / `WASMQ_KEYS_FILE`: a process's
//! environment is readable in `/proc` by its user, and a flag value by
//! everyone, so there is no flag that takes the keys themselves.
//! `--encrypt-queues` / `WASMQ_ENCRYPT_QUEUES` narrows sealing to some
//! queues; opening is never narrowed.

use crate::crypto::{Encryption, KeyError, KeyRing};
use clap::Args;
use std::path::PathBuf;

/// The environment variable that holds a key ring inline.
pub const KEYS_ENV: &str = "WASMQ_KEYS";

/// Key ring flags, flattened into `wasmq run` and the operator commands.
#[derive(Clone, Default, Args)]
pub struct KeyArgs {
    /// File holding the key ring (`id:base64-key` per line or comma; the
    /// first key encrypts, all decrypt). `WASMQ_KEYS` may hold it inline.
    #[arg(long, env = "WASMQ_KEYS_FILE", value_name = "FILE")]
    pub keys_file: Option<PathBuf>,
    /// Encrypt only these queues (comma-separated) [default: all, when a key ring is set].
    #[arg(long, env = "WASMQ_ENCRYPT_QUEUES", value_name = "QUEUES")]
    pub encrypt_queues: Option<String>,
}

impl std::fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyArgs")
            .field("keys_file", &self.keys_file)
            .field("encrypt_queues", &self.encrypt_queues)
            .finish()
    }
}

impl KeyArgs {
    /// The encryption these flags and `WASMQ_KEYS` ask for; `None` without
    /// a key ring.
    pub fn encryption(&self) -> Result<Option<Encryption>, KeyError> {
        let inline = std::env::var(KEYS_ENV)
            .ok()
            .filter(|k| !k.trim().is_empty());
        self.encryption_with(inline.as_deref())
    }

    fn encryption_with(&self, inline: Option<&str>) -> Result<Option<Encryption>, KeyError> {
        let ring = match (&self.keys_file, inline) {
            (Some(_), Some(_)) => {
                return Err(KeyError::File {
                    path: KEYS_ENV.into(),
                    reason: "give the key ring by WASMQ_KEYS or by a key file, not both".into(),
                });
            }
            (Some(path), None) => KeyRing::from_file(path)?,
            (None, Some(text)) => KeyRing::parse(text)?,
            (None, None) => return Ok(None),
        };
        let queues = self
            .encrypt_queues
            .as_deref()
            .and_then(Encryption::parse_queues);
        Ok(Some(Encryption::new(ring, queues)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn keys_come_from_the_environment_or_a_file() {
        let none = KeyArgs::default();
        assert_eq!(none.encryption_with(None).unwrap(), None);
        let inline = none.encryption_with(Some(RING)).unwrap().unwrap();
        assert!(inline.seals("any"));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), format!("# ring\n{RING}\n")).unwrap();
        let args = KeyArgs {
            keys_file: Some(file.path().to_owned()),
            encrypt_queues: Some("a,b".into()),
        };
        let from_file = args.encryption_with(None).unwrap().unwrap();
        assert_eq!(from_file.ring(), inline.ring());
        assert!(from_file.seals("a") && !from_file.seals("c"));
        assert!(args.encryption_with(Some(RING)).is_err());
    }

    #[test]
    fn a_bad_file_is_named_without_its_content() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "k1:c2VjcmV0LWJ1dC1zaG9ydA==").unwrap();
        let args = KeyArgs {
            keys_file: Some(file.path().to_owned()),
            encrypt_queues: None,
        };
        let err = args.encryption_with(None).unwrap_err().to_string();
        assert!(err.contains("k1") && !err.contains("c2VjcmV0"), "{err}");
    }
}
