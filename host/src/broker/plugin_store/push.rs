//! Writing: uploading a module, the push and rollback scripts, and the
//! board entry and notice that follow each (see the parent module).

use super::chunks::{self, CHUNK_SIZE, chunk_count};
use super::{
    BoardEntry, HISTORY_KEEP, PUSH_ATTEMPTS, PluginStoreError, PointerMove, STAGING_TTL,
    StoreResult, board_key, notice_channel,
};
use crate::broker::client::Client;
use crate::broker::error::BrokerError;
use crate::broker::reply::Reply;
use crate::broker::scripts::SCRIPTS;
use crate::config::MAX_MANIFEST_SIZE;
use redis::Value;
use sha2::{Digest, Sha256};

impl Client {
    /// Stores `module` (with its manifest text) as the newest version of
    /// `task_type` and makes it current, unless the current version has the
    /// same module and manifest. The caller has checked that it loads;
    /// sizes are checked here, before Redis.
    pub async fn plugin_push(
        &self,
        task_type: &str,
        module: &[u8],
        manifest: Option<&str>,
        max_size: u64,
    ) -> StoreResult<PointerMove> {
        let keys = self.plugin_keys(task_type)?;
        check_sizes(task_type, module.len() as u64, manifest, max_size)?;
        let sha = hex::encode(Sha256::digest(module));
        let manifest_arg = manifest.map_or_else(|| "-".to_owned(), |m| format!("+{m}"));
        let staging = keys.staging(&uuid::Uuid::new_v4().simple().to_string());
        // Upload only when no body has these bytes, or the script found it not whole.
        let (mut uploaded, mut must_upload) = (false, false);
        for _ in 0..PUSH_ATTEMPTS {
            let kept = self.kept_shas(&keys).await?;
            if !uploaded && (must_upload || !self.exists(&keys.body(&sha)).await?) {
                self.upload(&staging, module).await?;
                uploaded = true;
            }
            let mut call = SCRIPTS.plugin_push.prepare_invoke();
            call.key(&keys.head)
                .key(&keys.versions)
                .key(keys.body(&sha))
                .key(&staging);
            for s in &kept {
                call.key(keys.body(s));
            }
            call.arg(&sha)
                .arg(module.len())
                .arg(chunk_count(module.len() as u64))
                .arg(CHUNK_SIZE)
                .arg(&manifest_arg)
                .arg(HISTORY_KEEP)
                .arg(&kept[..]);
            let op = "plugin push";
            let reply = Reply::of(op).array(self.invoke(&call, op).await?)?;
            match code(op, &reply)? {
                -1 => continue,
                // The body vanished or is damaged, or the upload expired.
                -2 => (uploaded, must_upload) = (false, true),
                _ => {
                    let moved = moved(op, &reply)?;
                    self.announce(task_type, &moved_entry(op, &reply, &sha)?)
                        .await?;
                    return Ok(moved);
                }
            }
        }
        Err(PluginStoreError::Refused(format!(
            "the push of `{task_type}` did not complete in {PUSH_ATTEMPTS} attempts (other pushes \
             kept changing its versions, or the upload kept expiring); push again"
        )))
    }

    /// Points `task_type` back at `version`, or at the newest version older
    /// than the current one.
    pub async fn plugin_rollback(
        &self,
        task_type: &str,
        version: Option<u64>,
    ) -> StoreResult<PointerMove> {
        let keys = self.plugin_keys(task_type)?;
        let mut call = SCRIPTS.plugin_rollback.prepare_invoke();
        call.key(&keys.head)
            .key(&keys.versions)
            .arg(version.map(|v| v.to_string()).unwrap_or_default());
        let op = "plugin rollback";
        let reply = Reply::of(op).array(self.invoke(&call, op).await?)?;
        let unknown = || PluginStoreError::UnknownType {
            task_type: task_type.to_owned(),
        };
        match code(op, &reply)? {
            -1 => Err(unknown()),
            -2 | -3 => {
                let history = self.plugin_history(task_type).await?.ok_or_else(unknown)?;
                Err(match version {
                    Some(version) => PluginStoreError::UnknownVersion {
                        task_type: task_type.to_owned(),
                        version,
                        kept: history.versions.iter().map(|v| v.version).collect(),
                    },
                    None => PluginStoreError::NoOlderVersion {
                        task_type: task_type.to_owned(),
                        current: history.current,
                    },
                })
            }
            _ => {
                let sha = reply
                    .get(3)
                    .ok_or_else(|| BrokerError::reply(op, "no sha in the reply"))?;
                let sha = Reply::of(op).text(sha.clone())?;
                self.announce(task_type, &moved_entry(op, &reply, &sha)?)
                    .await?;
                moved(op, &reply).map_err(Into::into)
            }
        }
    }

    /// Stops `task_type` from being served from Redis: every kept version
    /// and body is deleted, and hosts unload it. Returns the version that
    /// was current. Its tasks stay queued until something serves the type.
    pub async fn plugin_remove(&self, task_type: &str) -> StoreResult<u64> {
        let keys = self.plugin_keys(task_type)?;
        let op = "plugin remove";
        for _ in 0..PUSH_ATTEMPTS {
            let kept = self.kept_shas(&keys).await?;
            let mut call = SCRIPTS.plugin_remove.prepare_invoke();
            call.key(&keys.head).key(&keys.versions);
            for s in &kept {
                call.key(keys.body(s));
            }
            call.arg(&kept[..]);
            let reply = Reply::of(op).array(self.invoke(&call, op).await?)?;
            match code(op, &reply)? {
                -1 => continue,
                -2 => {
                    return Err(PluginStoreError::UnknownType {
                        task_type: task_type.to_owned(),
                    });
                }
                _ => {
                    let number = |i: usize| {
                        let v = reply
                            .get(i)
                            .ok_or_else(|| BrokerError::reply(op, "a short reply"))?;
                        Reply::of(op).uint(v)
                    };
                    let (moves, version) = (number(1)?, number(2)?);
                    let tombstone = BoardEntry {
                        moves,
                        version: 0,
                        sha256: String::new(),
                    };
                    self.announce(task_type, &tombstone).await?;
                    return Ok(version);
                }
            }
        }
        Err(PluginStoreError::Refused(format!(
            "the removal of `{task_type}` did not complete in {PUSH_ATTEMPTS} attempts (pushes \
             kept changing its versions); remove it again"
        )))
    }

    /// Records a pointer move on the board, then tells the hosts.
    async fn announce(&self, task_type: &str, entry: &BoardEntry) -> StoreResult<()> {
        let ns = &self.options().namespace;
        let mut call = SCRIPTS.plugin_board.prepare_invoke();
        call.key(board_key(ns))
            .arg(task_type)
            .arg(entry.moves)
            .arg(entry.version)
            .arg(&entry.sha256);
        self.invoke(&call, "record a plugin push on the board")
            .await?;
        redis::cmd("PUBLISH")
            .arg(notice_channel(ns))
            .arg(task_type)
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("announce a plugin push", e))?;
        Ok(())
    }

    async fn exists(&self, key: &str) -> StoreResult<bool> {
        redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("check a pushed plugin body", e).into())
    }

    /// Writes `module` to `staging`, one chunk per command, with an expiry.
    async fn upload(&self, staging: &str, module: &[u8]) -> StoreResult<()> {
        let op = "upload a plugin";
        let ttl = u64::try_from(STAGING_TTL.as_millis()).unwrap_or(u64::MAX);
        redis::pipe()
            .del(staging)
            .ignore()
            .hset_multiple(
                staging,
                &[
                    ("size", module.len()),
                    ("chunks", chunk_count(module.len() as u64)),
                ],
            )
            .ignore()
            .pexpire(staging, ttl as i64)
            .ignore()
            .exec_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(op, e))?;
        for (i, chunk) in chunks::split(module).into_iter().enumerate() {
            redis::cmd("HSET")
                .arg(staging)
                .arg(i)
                .arg(chunk)
                .exec_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(op, e))?;
        }
        Ok(())
    }
}

/// Refuses an empty or oversized module or manifest, before Redis.
fn check_sizes(
    task_type: &str,
    size: u64,
    manifest: Option<&str>,
    max_size: u64,
) -> StoreResult<()> {
    if size == 0 {
        return Err(PluginStoreError::Refused(format!(
            "the module for `{task_type}` is empty; push a built .wasm file"
        )));
    }
    if size > max_size {
        return Err(PluginStoreError::Refused(format!(
            "the module for `{task_type}` is {size} bytes, more than the {max_size} bytes a host loads; \
             make it smaller (a release build, stripped)"
        )));
    }
    if let Some(text) = manifest
        && text.len() as u64 > MAX_MANIFEST_SIZE
    {
        return Err(PluginStoreError::Refused(format!(
            "the manifest for `{task_type}` is {} bytes, more than {MAX_MANIFEST_SIZE}",
            text.len()
        )));
    }
    Ok(())
}

/// The status code that opens a script reply.
fn code(op: &str, reply: &[Value]) -> Result<i64, BrokerError> {
    let first = reply
        .first()
        .ok_or_else(|| BrokerError::reply(op, "empty reply"))?;
    Reply::of(op).int(first)
}

fn moved(op: &str, reply: &[Value]) -> Result<PointerMove, BrokerError> {
    let r = Reply::of(op);
    let version = reply
        .get(1)
        .ok_or_else(|| BrokerError::reply(op, "no version in the reply"))?;
    Ok(PointerMove {
        version: r.uint(version)?,
        moved: code(op, reply)? == 1,
    })
}

fn moved_entry(op: &str, reply: &[Value], sha: &str) -> Result<BoardEntry, BrokerError> {
    let moves = reply
        .get(2)
        .ok_or_else(|| BrokerError::reply(op, "no move count in the reply"))?;
    Ok(BoardEntry {
        moves: Reply::of(op).uint(moves)?,
        version: moved(op, reply)?.version,
        sha256: sha.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_before_redis() {
        assert!(check_sizes("echo", 0, None, 10).is_err());
        let err = check_sizes("echo", 11, None, 10).unwrap_err().to_string();
        assert!(
            err.contains("11 bytes") && err.contains("10 bytes"),
            "{err}"
        );
        let big = "#".repeat(MAX_MANIFEST_SIZE as usize + 1);
        assert!(check_sizes("echo", 5, Some(&big), 10).is_err());
        assert!(check_sizes("echo", 10, Some("fuel = 1"), 10).is_ok());
    }
}
