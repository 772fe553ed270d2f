//! The sealed value format, in one place.
//!
//! ```text
//! binary (payloads, outputs):  \x01 w q e 1 : <key id> : <12-byte nonce><ciphertext + 16-byte tag>
//! text   (error messages):     \x01 w q e 1 t : <key id> : <base64 of nonce, ciphertext and tag>
//! ```
//!
//! The leading control byte and the version mark a sealed value; producers
//! refuse a plain payload that starts with the binary magic and hosts never
//! write a plain error starting with `\x01`, so the mark is unambiguous. The
//! key id ends at the first `:` (ids have no `:`), and the rest is fixed
//! width. Error texts stay text (meta fields are read as UTF-8), hence the
//! base64 form. The associated data binds a value to its field and queue
//! (`wasmq/<field>/<queue>`), so a sealed output cannot be passed off as a
//! payload, nor a value moved to another queue.

use super::{CryptoError, KeyRing};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

/// Prefix of a sealed binary value.
pub const MAGIC: &[u8] = b"\x01wqe1:";
/// Prefix of a sealed text value.
pub const MAGIC_TEXT: &str = "\x01wqe1t:";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// What a sealed value is; part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A task's payload.
    Payload,
    /// A completed task's output.
    Output,
    /// A failed attempt's error message.
    Error,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Payload => "payload",
            Field::Output => "output",
            Field::Error => "error",
        }
    }
}

fn aad(field: Field, queue: &str) -> Vec<u8> {
    format!("wasmq/{}/{queue}", field.name()).into_bytes()
}

/// Whether `value` is a sealed binary value.
pub fn is_sealed(value: &[u8]) -> bool {
    value.starts_with(MAGIC)
}

/// Whether `value` is a sealed text value.
pub fn is_sealed_text(value: &str) -> bool {
    value.starts_with(MAGIC_TEXT)
}

/// The key id a sealed value (binary or text) names.
pub fn sealed_key_id(value: &[u8]) -> Option<&str> {
    let rest = value
        .strip_prefix(MAGIC)
        .or_else(|| value.strip_prefix(MAGIC_TEXT.as_bytes()))?;
    let end = rest.iter().position(|b| *b == b':')?;
    std::str::from_utf8(&rest[..end]).ok()
}

impl KeyRing {
    /// Seals `plain` with the first key.
    pub fn seal(&self, field: Field, queue: &str, plain: &[u8]) -> Vec<u8> {
        let (id, sealed) = self.seal_raw(field, queue, plain);
        let mut out = Vec::with_capacity(MAGIC.len() + id.len() + 1 + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(id.as_bytes());
        out.push(b':');
        out.extend_from_slice(&sealed);
        out
    }

    /// Seals a text with the first key, as text.
    pub fn seal_text(&self, field: Field, queue: &str, plain: &str) -> String {
        let (id, sealed) = self.seal_raw(field, queue, plain.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(sealed);
        format!("{MAGIC_TEXT}{id}:{b64}")
    }

    /// Opens a sealed binary value.
    pub fn open(&self, field: Field, queue: &str, value: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rest = value.strip_prefix(MAGIC).ok_or(CryptoError::Malformed)?;
        let end = rest
            .iter()
            .position(|b| *b == b':')
            .ok_or(CryptoError::Malformed)?;
        let id = std::str::from_utf8(&rest[..end]).map_err(|_| CryptoError::Malformed)?;
        self.open_raw(id, field, queue, &rest[end + 1..])
    }

    /// Opens a sealed text value.
    pub fn open_text(&self, field: Field, queue: &str, value: &str) -> Result<String, CryptoError> {
        let rest = value
            .strip_prefix(MAGIC_TEXT)
            .ok_or(CryptoError::Malformed)?;
        let (id, b64) = rest.split_once(':').ok_or(CryptoError::Malformed)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| CryptoError::Malformed)?;
        let plain = self.open_raw(id, field, queue, &raw)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }

    fn seal_raw(&self, field: Field, queue: &str, plain: &[u8]) -> (&str, Vec<u8>) {
        let (id, cipher) = self.primary();
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad(field, queue);
        let ct = encrypt(&cipher, &nonce, plain, &aad);
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        (id, out)
    }

    fn open_raw(
        &self,
        id: &str,
        field: Field,
        queue: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let cipher = self
            .cipher(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let aad = aad(field, queue);
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| CryptoError::Tampered(id.to_owned()))
    }
}

/// AES-GCM refuses only messages over 64 GiB, far above any payload limit.
fn encrypt(cipher: &Aes256Gcm, nonce: &[u8], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    cipher
        .encrypt(Nonce::from_slice(nonce), Payload { msg: plain, aad })
        .expect("AES-GCM seals any message below 64 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring(text: &str) -> KeyRing {
        KeyRing::parse(text).unwrap()
    }
    const K1: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const K2: &str = "k2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const K1_OTHER: &str = "k1:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

    #[test]
    fn layout_is_as_documented() {
        let sealed = ring(K1).seal(Field::Payload, "q", b"abc");
        assert!(sealed.starts_with(b"\x01wqe1:k1:"));
        assert_eq!(sealed.len(), MAGIC.len() + 3 + NONCE_LEN + 3 + TAG_LEN);
        assert_eq!(sealed_key_id(&sealed), Some("k1"));
        let text = ring(K1).seal_text(Field::Error, "q", "boom");
        assert!(text.starts_with("\x01wqe1t:k1:"));
        assert_eq!(sealed_key_id(text.as_bytes()), Some("k1"));
    }

    proptest! {
        #[test]
        fn round_trips(plain in proptest::collection::vec(any::<u8>(), 0..400), queue in "[a-z]{1,8}") {
            let r = ring(&format!("{K2},{K1}"));
            let sealed = r.seal(Field::Payload, &queue, &plain);
            prop_assert!(is_sealed(&sealed));
            prop_assert_eq!(r.open(Field::Payload, &queue, &sealed).unwrap(), plain.clone());
            // An older key still opens what it sealed.
            let old = ring(K1).seal(Field::Output, &queue, &plain);
            prop_assert_eq!(r.open(Field::Output, &queue, &old).unwrap(), plain);
        }

        #[test]
        fn text_round_trips(plain in ".{0,200}") {
            let r = ring(K1);
            let sealed = r.seal_text(Field::Error, "q", &plain);
            prop_assert!(is_sealed_text(&sealed));
            prop_assert_eq!(r.open_text(Field::Error, "q", &sealed).unwrap(), plain);
        }

        #[test]
        fn tampering_is_caught(plain in proptest::collection::vec(any::<u8>(), 0..100), at in any::<usize>(), bit in 0u8..8) {
            let r = ring(K1);
            let mut sealed = r.seal(Field::Payload, "q", &plain);
            let start = MAGIC.len() + 3;
            let i = start + at % (sealed.len() - start);
            sealed[i] ^= 1 << bit;
            prop_assert!(r.open(Field::Payload, "q", &sealed).is_err());
        }

        #[test]
        fn wrong_keys_and_contexts_fail(plain in proptest::collection::vec(any::<u8>(), 0..100)) {
            let sealed = ring(K1).seal(Field::Payload, "q", &plain);
            prop_assert_eq!(ring(K1_OTHER).open(Field::Payload, "q", &sealed), Err(CryptoError::Tampered("k1".into())));
            prop_assert_eq!(ring(K2).open(Field::Payload, "q", &sealed), Err(CryptoError::UnknownKey("k1".into())));
            prop_assert!(ring(K1).open(Field::Output, "q", &sealed).is_err());
            prop_assert!(ring(K1).open(Field::Payload, "other", &sealed).is_err());
        }

        #[test]
        fn garbage_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let r = ring(K1);
            let _ = r.open(Field::Payload, "q", &bytes);
            let mut framed = b"\x01wqe1:k1:".to_vec();
            framed.append(&mut bytes);
            prop_assert!(r.open(Field::Payload, "q", &framed).is_err());
        }
    }

    #[test]
    fn nonces_differ() {
        let r = ring(K1);
        assert_ne!(
            r.seal(Field::Payload, "q", b"same"),
            r.seal(Field::Payload, "q", b"same")
        );
    }
}
