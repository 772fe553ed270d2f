//! Re-sealing stored values with the ring's first key, for `wasmq keys
//! rotate`: once every value names the new key, the old one can leave the
//! ring.
//!
//! Values live in five kinds of hash per queue: the task bodies (`t`, a
//! sealed payload after the header), `meta` (a sealed error text in the
//! last field), the result buckets (`res:<n>`, a sealed output after the
//! header), and for each flow parent still to run (waiting, or in `t`) its
//! flow hash (`fl:<id>`, whose `body` is a task body) and the outcomes of
//! its dependencies (`fr:<id>`: `o:<dep>` a sealed output, `e:<dep>` a
//! sealed error, each under the dependency's queue). Each is walked with `HSCAN`, a page at a time; a page's new
//! values go back in one `rekey.lua` call that writes a field only if it
//! still holds what was read, so a task settled or retried meanwhile is
//! never clobbered with its old value. A value already under the first key
//! is left alone, which makes a pass idempotent and lets an interrupted
//! one resume from any cursor (or start over). Every call names one key of
//! one queue, so it is Cluster-correct.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::records::Meta;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::crypto::{self, Field, KeyRing};
use crate::task::FLOW_PREFIX;

/// Fields one `HSCAN` page of the task bodies asks for while looking for
/// flow parents.
const FLOW_SCAN_COUNT: usize = 1000;

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
    FlowResults,
}

impl Client {
    /// The hashes of `queue` that may hold sealed values, in the order a
    /// rotation walks them: bodies, meta, then the result buckets.
    pub async fn rekey_hashes(&self, queue: &str) -> BrokerResult<Vec<String>> {
        let keys = self.keys(queue)?;
        let mut out = vec![keys.tasks.clone(), keys.meta.clone()];
        out.extend(self.bucket_keys(&keys).await?);
        for parent in self.flow_parents_to_run(queue).await? {
            out.push(keys.flow(&parent));
            out.push(keys.flow_results(&parent));
        }
        Ok(out)
    }

    /// The local ids of `queue`'s flow parents that may still run: waiting,
    /// or with a body in `t` (pending, retrying, scheduled, running).
    async fn flow_parents_to_run(&self, queue: &str) -> BrokerResult<Vec<String>> {
        let keys = self.keys(queue)?;
        let op = format!("list the flow parents of queue {queue:?}");
        let mut ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(&keys.waiting)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        let mut cursor = 0u64;
        loop {
            // Field and value pairs (NOVALUES needs Redis 7.4); the bodies
            // are small, and only flow parents match.
            let (next, found): (u64, Vec<Vec<u8>>) = redis::cmd("HSCAN")
                .arg(&keys.tasks)
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{FLOW_PREFIX}*"))
                .arg("COUNT")
                .arg(FLOW_SCAN_COUNT)
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(&op, e))?;
            let found = found
                .chunks_exact(2)
                .map(|pair| String::from_utf8_lossy(&pair[0]).into_owned());
            ids.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
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
        let kind = if hash == keys.tasks || hash.starts_with(&keys.flow("")) {
            Kind::Bodies
        } else if hash.starts_with(&keys.flow_results("")) {
            Kind::FlowResults
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
        let mut inv = SCRIPTS.rekey.prepare_invoke();
        inv.key(hash);
        let mut args: Vec<Vec<u8>> = Vec::new();
        for pair in items.chunks_exact(2) {
            page.scanned += 1;
            match rekey_value(ring, kind, queue, &pair[0], &pair[1]) {
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
    field: &[u8],
    value: &[u8],
) -> Result<Option<Vec<u8>>, crypto::CryptoError> {
    let stale =
        |sealed: &[u8]| crypto::sealed_key_id(sealed).is_some_and(|id| id != ring.primary_id());
    match kind {
        // A dependency's outcome, sealed under the dependency's queue.
        Kind::FlowResults => {
            let field = String::from_utf8_lossy(field);
            let dep_queue = |dep: &str| dep.split(':').next().unwrap_or_default().to_owned();
            if let Some(dep) = field.strip_prefix("o:") {
                if !crypto::is_sealed(value) || !stale(value) {
                    return Ok(None);
                }
                let q = dep_queue(dep);
                let plain = ring.open(Field::Output, &q, value)?;
                return Ok(Some(ring.seal(Field::Output, &q, &plain)));
            }
            if let Some(dep) = field.strip_prefix("e:") {
                let Ok(text) = std::str::from_utf8(value) else {
                    return Ok(None);
                };
                if !crypto::is_sealed_text(text) || !stale(value) {
                    return Ok(None);
                }
                let q = dep_queue(dep);
                let plain = ring.open_text(Field::Error, &q, text)?;
                return Ok(Some(ring.seal_text(Field::Error, &q, &plain).into_bytes()));
            }
            Ok(None)
        }
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
        let new = rekey_value(&ring, Kind::Bodies, "q", b"1", &body)
            .unwrap()
            .unwrap();
        assert!(new.starts_with(b"1|1|3|0||17\n\x01wqe1:k2:"));
        assert_eq!(
            rekey_value(&ring, Kind::Bodies, "q", b"1", &new).unwrap(),
            None
        );
        let rec = crate::task::TaskRecord::decode(&new).unwrap();
        assert_eq!(
            ring.open(Field::Payload, "q", &rec.payload).unwrap(),
            b"payload"
        );

        let meta = format!(
            "2|5|6|v1|failed|{}",
            old.seal_text(Field::Error, "q", "a|b")
        );
        let new = rekey_value(&ring, Kind::Meta, "q", b"1", meta.as_bytes())
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
            rekey_value(&ring, Kind::Results, "q", b"1", b"completed|1|\nout").unwrap(),
            None
        );
        let foreign = KeyRing::parse("k9:OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk=").unwrap();
        let mut rec = b"completed|1|1|1|1|1||v|\n".to_vec();
        rec.extend(foreign.seal(Field::Output, "q", b"x"));
        assert!(rekey_value(&ring, Kind::Results, "q", b"1", &rec).is_err());

        // A flow's outcomes, under each dependency's own queue.
        let out = old.seal(Field::Output, "kid", b"42");
        let new = rekey_value(&ring, Kind::FlowResults, "q", b"o:kid:c-1-0", &out)
            .unwrap()
            .unwrap();
        assert_eq!(ring.open(Field::Output, "kid", &new).unwrap(), b"42");
        let err = old.seal_text(Field::Error, "kid", "boom");
        let new = rekey_value(
            &ring,
            Kind::FlowResults,
            "q",
            b"e:kid:c-1-1",
            err.as_bytes(),
        )
        .unwrap()
        .unwrap();
        let new = String::from_utf8(new).unwrap();
        assert_eq!(ring.open_text(Field::Error, "kid", &new).unwrap(), "boom");
        let ctype = rekey_value(&ring, Kind::FlowResults, "q", b"t:kid:c-1-0", b"text/plain");
        assert_eq!(ctype.unwrap(), None);
    }
}
