//! Re-sealing stored values with the ring's first key, for `wasmq keys
//! rotate`: once every value names the new key, the old one can leave the
//! ring.
//!
//! Values live in three kinds of hash per queue: the task bodies (`t`, a
//! sealed payload after the header), `meta` (a sealed error text in the
//! last field) and the result buckets (`res:<n>`, a sealed output after the
//! header). Each is walked with `HSCAN`, a page at a time; a page's new
//! values go back in one `rekey.lua` call that writes a field only if it
//! still holds what was read, so a task settled or retried meanwhile is
//! never clobbered with its old value. A value already under the first key
//! is left alone, which makes a pass idempotent and lets an interrupted
//! one resume from any cursor (or start over). Every call names one key of
//! one queue, so it is Cluster-correct.
//!
//! The script is not in [`super::scripts::SCRIPTS`]: it runs only from
//! this command, and `redis::Script` loads it on first use.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::records::Meta;
use super::reply::Reply;
use crate::crypto::{self, Field, KeyRing};
use redis::Script;
use std::sync::LazyLock;

static REKEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/prelude.lua"),
        "\n",
        include_str!("lua/rekey.lua")
    ))
});

/// What one page of a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RekeyPage {
    /// The `HSCAN` cursor to continue from; 0 when the hash is done.
    pub cursor: u64,
    /// Fields looked at.
    pub scanned: u64,
    /// Fields re-sealed with the first key.
    pub rewritten: u64,
    /// Fields that changed between the read and the write (left alone).
    pub changed: u64,
    /// Sealed values no key of the ring opens (left alone).
    pub unreadable: u64,
}

/// Which part of a stored value is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bodies,
    Meta,
    Results,
}

impl Client {
    /// The hashes of `queue` that may hold sealed values, in the order a
    /// rotation walks them: bodies, meta, then the result buckets.
    pub async fn rekey_hashes(&self, queue: &str) -> BrokerResult<Vec<String>> {
        let keys = self.keys(queue)?;
        let mut out = vec![keys.tasks.clone(), keys.meta.clone()];
        out.extend(self.bucket_keys(&keys).await?);
        Ok(out)
    }

    /// Re-seals one `HSCAN` page (about `count` fields) of `hash`, one of
    /// [`Client::rekey_hashes`] of `queue`, from `cursor`.
    pub async fn rekey_page(
        &self,
        queue: &str,
        hash: &str,
        cursor: u64,
        count: usize,
    ) -> BrokerResult<RekeyPage> {
        let op = format!("re-encrypt {hash}");
        let ring = self
            .key_ring()
            .ok_or_else(|| BrokerError::reply(&op, "no key ring is configured"))?;
        let keys = self.keys(queue)?;
        let kind = if hash == keys.tasks {
            Kind::Bodies
        } else if hash == keys.meta {
            Kind::Meta
        } else if hash
            .strip_prefix(keys.result_bucket(0).trim_end_matches('0'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            Kind::Results
        } else {
            return Err(BrokerError::reply(&op, "not a hash of this queue"));
        };
        let (next, items): (u64, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg(hash)
            .arg(cursor)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        let mut page = RekeyPage {
            cursor: next,
            ..RekeyPage::default()
        };
        let mut inv = REKEY.prepare_invoke();
        inv.key(hash);
        let mut args: Vec<Vec<u8>> = Vec::new();
        for pair in items.chunks_exact(2) {
            page.scanned += 1;
            match rekey_value(ring, kind, queue, &pair[1]) {
                Ok(Some(new)) => {
                    args.push(pair[0].clone());
                    args.push(pair[1].clone());
                    args.push(new);
                }
                Ok(None) => {}
                Err(_) => page.unreadable += 1,
            }
        }
        let n = args.len() as u64 / 3;
        if n == 0 {
            return Ok(page);
        }
        inv.arg(n).arg(args);
        let reply = self.invoke(&inv, &op).await?;
        page.rewritten = Reply::of(&op).uint(&reply)?;
        page.changed = n - page.rewritten;
        Ok(page)
    }
}

/// The value re-sealed with the first key; `None` when it needs nothing
/// (in clear, or already under the first key).
fn rekey_value(
    ring: &KeyRing,
    kind: Kind,
    queue: &str,
    value: &[u8],
) -> Result<Option<Vec<u8>>, crypto::CryptoError> {
    let stale =
        |sealed: &[u8]| crypto::sealed_key_id(sealed).is_some_and(|id| id != ring.primary_id());
    match kind {
        Kind::Bodies | Kind::Results => {
            let field = match kind {
                Kind::Bodies => Field::Payload,
                _ => Field::Output,
            };
            let Some(nl) = value.iter().position(|b| *b == b'\n') else {
                return Ok(None);
            };
            let (head, sealed) = (&value[..=nl], &value[nl + 1..]);
            if !crypto::is_sealed(sealed) || !stale(sealed) {
                return Ok(None);
            }
            let plain = ring.open(field, queue, sealed)?;
            let mut out = head.to_vec();
            out.extend_from_slice(&ring.seal(field, queue, &plain));
            Ok(Some(out))
        }
        Kind::Meta => {
            let Some(meta) = std::str::from_utf8(value).ok().and_then(Meta::parse) else {
                return Ok(None);
            };
            let Some(error) = meta.error.as_deref() else {
                return Ok(None);
            };
            if !crypto::is_sealed_text(error) || !stale(error.as_bytes()) {
                return Ok(None);
            }
            let plain = ring.open_text(Field::Error, queue, error)?;
            let text = std::str::from_utf8(value).unwrap_or_default();
            let head = &text[..text.len() - error.len()];
            let new = format!("{head}{}", ring.seal_text(Field::Error, queue, &plain));
            Ok(Some(new.into_bytes()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "k1:MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
    const NEW: &str = "k2:MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";

    #[test]
    fn values_move_to_the_first_key_once() {
        let old = KeyRing::parse(OLD).unwrap();
        let ring = KeyRing::parse(&format!("{NEW},{OLD}")).unwrap();
        let mut body = b"1|1|3|0||17\n".to_vec();
        body.extend(old.seal(Field::Payload, "q", b"payload"));
        let new = rekey_value(&ring, Kind::Bodies, "q", &body)
            .unwrap()
            .unwrap();
        assert!(new.starts_with(b"1|1|3|0||17\n\x01wqe1:k2:"));
        assert_eq!(rekey_value(&ring, Kind::Bodies, "q", &new).unwrap(), None);
        let rec = crate::task::TaskRecord::decode(&new).unwrap();
        assert_eq!(
            ring.open(Field::Payload, "q", &rec.payload).unwrap(),
            b"payload"
        );

        let meta = format!(
            "2|5|6|v1|failed|{}",
            old.seal_text(Field::Error, "q", "a|b")
        );
        let new = rekey_value(&ring, Kind::Meta, "q", meta.as_bytes())
            .unwrap()
            .unwrap();
        let parsed = Meta::parse(std::str::from_utf8(&new).unwrap()).unwrap();
        assert_eq!(
            (parsed.attempt, parsed.reason.as_deref()),
            (2, Some("failed"))
        );
        let error = parsed.error.unwrap();
        assert_eq!(ring.open_text(Field::Error, "q", &error).unwrap(), "a|b");

        // In clear, or unknown to the ring: left alone / reported.
        assert_eq!(
            rekey_value(&ring, Kind::Results, "q", b"completed|1|\nout").unwrap(),
            None
        );
        let foreign = KeyRing::parse("k9:OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk=").unwrap();
        let mut rec = b"completed|1|1|1|1|1||v|\n".to_vec();
        rec.extend(foreign.seal(Field::Output, "q", b"x"));
        assert!(rekey_value(&ring, Kind::Results, "q", &rec).is_err());
    }
}
