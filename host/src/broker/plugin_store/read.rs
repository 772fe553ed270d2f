//! Reading: the history, the current version, a module's chunks, and the
//! board hosts poll (see the parent module).

use super::chunks::{self, CHUNK_SIZE, chunk_count};
use super::{
    BoardEntry, CHUNKS_PER_READ, PluginHistory, PluginKeys, PluginStoreError, PushedVersion,
    Reassembly, StoreResult, board_key,
};
use crate::broker::client::Client;
use crate::broker::error::BrokerError;
use crate::broker::reply::Reply;
use redis::Value;
use std::collections::{BTreeMap, BTreeSet};

impl Client {
    /// The kept versions of `task_type`, newest first; `None` if nothing
    /// was pushed for it.
    pub async fn plugin_history(&self, task_type: &str) -> StoreResult<Option<PluginHistory>> {
        let keys = self.plugin_keys(task_type)?;
        let op = "plugin history";
        let (current, all): (Option<u64>, Value) = redis::pipe()
            .hget(&keys.head, "current")
            .hgetall(&keys.versions)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(op, e))?;
        let Some(current) = current else {
            return Ok(None);
        };
        let mut versions = Vec::new();
        for (field, value) in Reply::of(op).pairs(all)? {
            let record = Reply::of(op).bytes(value)?;
            versions.push(parse_record(op, &field, &record)?);
        }
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(Some(PluginHistory {
            task_type: task_type.to_owned(),
            current,
            versions,
        }))
    }

    /// The current version of `task_type`, if one was pushed.
    pub async fn plugin_current(&self, task_type: &str) -> StoreResult<Option<PushedVersion>> {
        let keys = self.plugin_keys(task_type)?;
        let op = "read the current pushed plugin";
        // A push may trim the version read between the two reads: read again.
        for _ in 0..3 {
            let current: Option<u64> = redis::cmd("HGET")
                .arg(&keys.head)
                .arg("current")
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(op, e))?;
            let Some(current) = current else {
                return Ok(None);
            };
            let record: Option<Vec<u8>> = redis::cmd("HGET")
                .arg(&keys.versions)
                .arg(current)
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(op, e))?;
            if let Some(record) = record {
                return Ok(Some(parse_record(op, &current.to_string(), &record)?));
            }
        }
        Err(BrokerError::reply(op, "the current version keeps changing").into())
    }

    /// The module of `version`, checked against its size and SHA-256.
    pub async fn plugin_download(
        &self,
        task_type: &str,
        version: &PushedVersion,
    ) -> StoreResult<Vec<u8>> {
        let keys = self.plugin_keys(task_type)?;
        let body = keys.body(&version.sha256);
        let max_chunks = chunk_count(version.size);
        if version.chunks != max_chunks {
            return Err(PluginStoreError::Damaged {
                task_type: task_type.to_owned(),
                version: version.version,
                problem: Reassembly::Size {
                    got: version.chunks as u64 * CHUNK_SIZE as u64,
                    want: version.size,
                },
            });
        }
        let mut chunks = Vec::with_capacity(version.chunks);
        let indices: Vec<usize> = (0..version.chunks).collect();
        for batch in indices.chunks(CHUNKS_PER_READ) {
            let got: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                .arg(&body)
                .arg(batch)
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail("download a pushed plugin", e))?;
            chunks.extend(got);
        }
        chunks::join(chunks, version.size, &version.sha256).map_err(|problem| {
            PluginStoreError::Damaged {
                task_type: task_type.to_owned(),
                version: version.version,
                problem,
            }
        })
    }

    /// Where every pushed type's pointer stands: one `HGETALL`.
    pub async fn plugin_board(&self) -> StoreResult<BTreeMap<String, BoardEntry>> {
        let op = "read the plugin board";
        let all: Value = redis::cmd("HGETALL")
            .arg(board_key(&self.options().namespace))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(op, e))?;
        let mut board = BTreeMap::new();
        for (task_type, value) in Reply::of(op).pairs(all)? {
            let text = Reply::of(op).text(value)?;
            let mut parts = text.splitn(3, '|');
            let (Some(moves), Some(version), Some(sha)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(BrokerError::reply(op, format!("malformed entry {text:?}")).into());
            };
            let number = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| BrokerError::reply(op, format!("malformed entry {text:?}")))
            };
            board.insert(
                task_type,
                BoardEntry {
                    moves: number(moves)?,
                    version: number(version)?,
                    sha256: sha.to_owned(),
                },
            );
        }
        Ok(board)
    }

    /// The distinct SHA-256s of the versions kept now.
    pub(super) async fn kept_shas(&self, keys: &PluginKeys) -> StoreResult<Vec<String>> {
        let op = "read the pushed versions";
        let all: Value = redis::cmd("HGETALL")
            .arg(&keys.versions)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(op, e))?;
        let mut shas = BTreeSet::new();
        for (field, value) in Reply::of(op).pairs(all)? {
            let record = Reply::of(op).bytes(value)?;
            shas.insert(parse_record(op, &field, &record)?.sha256);
        }
        Ok(shas.into_iter().collect())
    }
}

/// Parses a version record: `<sha>|<size>|<chunks>|<pushed ms>\n<manifest>`,
/// the manifest being `-` (none) or `+<text>`.
pub(super) fn parse_record(
    op: &str,
    field: &str,
    record: &[u8],
) -> Result<PushedVersion, BrokerError> {
    let bad = || BrokerError::reply(op, format!("malformed record of version {field}"));
    let text = std::str::from_utf8(record).map_err(|_| bad())?;
    let (line, manifest) = text.split_once('\n').ok_or_else(bad)?;
    let parts: Vec<&str> = line.split('|').collect();
    let [sha, size, chunks, pushed] = parts[..] else {
        return Err(bad());
    };
    let manifest = match manifest.split_at_checked(1) {
        Some(("-", "")) => None,
        Some(("+", text)) => Some(text.to_owned()),
        _ => return Err(bad()),
    };
    Ok(PushedVersion {
        version: field.parse().map_err(|_| bad())?,
        sha256: sha.to_owned(),
        size: size.parse().map_err(|_| bad())?,
        chunks: chunks.parse().map_err(|_| bad())?,
        pushed_at_ms: pushed.parse().map_err(|_| bad())?,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_garbage() {
        let v = parse_record("t", "3", b"ab12|10|1|1700\n+fuel = 5\n").unwrap();
        assert_eq!((v.version, v.size, v.chunks), (3, 10, 1));
        assert_eq!(v.manifest.as_deref(), Some("fuel = 5\n"));
        assert_eq!(
            parse_record("t", "1", b"ab|1|1|2\n-").unwrap().manifest,
            None
        );
        for bad in [
            &b"ab|1|1|2"[..],
            b"ab|1|1\n-",
            b"ab|x|1|2\n-",
            b"ab|1|1|2\n?",
        ] {
            assert!(parse_record("t", "1", bad).is_err(), "{bad:?}");
        }
    }
}
