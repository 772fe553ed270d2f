//! Removing an empty queue.
//!
//! Every enqueue adds its queue's name to `<ns>:queues` for good, and every
//! host's maintenance tick and every listing walks that set, so a mistyped
//! task type enqueued once would stay forever. [`Client::remove_queue`]
//! deletes a queue's keys and its name, but only when it holds no task in
//! any state: nothing is ever lost by removing a queue.
//!
//! The queue's keys go in one script (`remove_queue.lua`), which counts what
//! is left before its first write. The name lives in `<ns>:queues`, a key of
//! another Cluster slot, so it cannot be in that script. Instead the name is
//! taken out first and put back if the script refuses; and the enqueue
//! script tells its client when a queue starts afresh (no stats hash), which
//! then adds the name again. Whatever the interleaving with a concurrent
//! enqueue, a queue holding tasks ends up listed.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::invoke::count;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use serde::Serialize;

/// What a queue still holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueContents {
    /// Pending tasks, all priorities.
    pub pending: u64,
    /// Tasks waiting for their run-at time.
    pub scheduled: u64,
    /// Tasks waiting out a retry backoff.
    pub retry_wait: u64,
    /// Leased, running tasks.
    pub active: u64,
    /// Tasks in the dead-letter set.
    pub dead: u64,
    /// Stored task bodies (every task above has one; more means leftovers).
    pub bodies: u64,
    /// Flow parents waiting on their dependencies.
    pub waiting: u64,
    /// Completed tasks whose child tasks are not forwarded yet.
    pub unforwarded: u64,
}

impl QueueContents {
    /// The non-zero counts, as `3 pending, 1 dead`; `nothing` when empty.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.pending, "pending"),
            (self.scheduled, "scheduled"),
            (self.retry_wait, "retry-wait"),
            (self.active, "active"),
            (self.dead, "dead"),
            (self.waiting, "waiting on dependencies"),
            (self.unforwarded, "with children not forwarded yet"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        match (parts.is_empty(), self.bodies) {
            (true, 0) => "nothing".to_owned(),
            (true, n) => format!("{n} stored task bodies in no state"),
            (false, _) => parts.join(", "),
        }
    }
}

/// What [`Client::remove_queue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRemoval {
    /// The queue's keys and name are gone.
    Removed,
    /// The queue holds tasks; nothing was changed.
    NotEmpty(QueueContents),
    /// No such queue: not listed and no key of it exists.
    NotFound,
}

impl Client {
    /// Removes `queue` if it holds no task in any state: its keys (sizes,
    /// counters, kept results, pause flag) and its name in the queue list.
    /// Its id counter stays, so later tasks of the same name get new ids.
    pub async fn remove_queue(&self, queue: &str) -> BrokerResult<QueueRemoval> {
        let keys = self.keys(queue)?;
        let op = format!("remove queue {queue:?}");
        let global = &self.inner.global.queues;
        let listed: bool = redis::cmd("SREM")
            .arg(global)
            .arg(queue)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        self.forget_registered(queue);
        let outcome = self.remove_keys(&keys, &op).await;
        let relist = match &outcome {
            Ok(QueueRemoval::Removed | QueueRemoval::NotFound) => false,
            Ok(QueueRemoval::NotEmpty(_)) => true,
            Err(_) => listed,
        };
        if relist {
            self.register_queue(queue).await?;
        }
        match outcome? {
            QueueRemoval::NotFound if listed => Ok(QueueRemoval::Removed),
            other => Ok(other),
        }
    }

    async fn remove_keys(
        &self,
        keys: &super::keys::QueueKeys,
        op: &str,
    ) -> BrokerResult<QueueRemoval> {
        let buckets = self.bucket_keys(keys).await?;
        let mut inv = SCRIPTS.remove_queue.prepare_invoke();
        inv.key(&keys.tasks)
            .key(&keys.pending[..])
            .key(&keys.scheduled)
            .key(&keys.retry)
            .key(&keys.active)
            .key(&keys.dead)
            .key(&keys.lease)
            .key(&keys.meta)
            .key(&keys.cancel)
            .key(&keys.stats)
            .key(&keys.throughput)
            .key(&keys.paused)
            .key(&keys.wake)
            .key(&keys.garbage)
            .key(&keys.result_index)
            .key(&keys.outbox)
            .key(&keys.waiting)
            .key(&buckets[..]);
        let r = Reply::of(op);
        let counts = r.array(self.invoke(&inv, op).await?)?;
        if counts.len() != 10 {
            return Err(BrokerError::reply(op, "10 counts expected"));
        }
        let contents = QueueContents {
            pending: count(&r, &counts, 1)?,
            scheduled: count(&r, &counts, 2)?,
            retry_wait: count(&r, &counts, 3)?,
            active: count(&r, &counts, 4)?,
            dead: count(&r, &counts, 5)?,
            bodies: count(&r, &counts, 6)?,
            waiting: count(&r, &counts, 7)?,
            unforwarded: count(&r, &counts, 8)?,
        };
        Ok(match (count(&r, &counts, 0)?, count(&r, &counts, 9)?) {
            (1, 0) => QueueRemoval::NotFound,
            (1, _) => QueueRemoval::Removed,
            _ => QueueRemoval::NotEmpty(contents),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_say_what_is_left() {
        let empty = QueueContents::default();
        assert_eq!(empty.describe(), "nothing");
        let some = QueueContents {
            pending: 3,
            dead: 1,
            bodies: 4,
            ..empty
        };
        assert_eq!(some.describe(), "3 pending, 1 dead");
        let leftovers = QueueContents { bodies: 2, ..empty };
        assert_eq!(leftovers.describe(), "2 stored task bodies in no state");
        let outbox = QueueContents {
            unforwarded: 1,
            ..empty
        };
        assert_eq!(outbox.describe(), "1 with children not forwarded yet");
        assert_eq!(leftovers.describe(), "2 stored task bodies in no state");
    }
}
