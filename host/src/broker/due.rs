//! The due indexes: which queues need a maintenance visit, and when, so
//! that an idle queue costs nothing per tick.
//!
//! A maintenance tick used to call every queue once (`maintain.lua`), so a
//! host's idle load grew with the queue count: 10,000 queues at a 500 ms
//! tick were 20,000 calls/s per host before any work. Now each queue has at
//! most one entry, `queue -> ms`, in the due index of its bucket, saying
//! when it next has something time-driven to do (a delayed task or a retry
//! coming due, a lease running out, a trim); a tick claims only the entries
//! that are due ([`Client::claim_due`]), visits those queues and settles
//! each entry to the queue's next time ([`Client::settle_due`]).
//!
//! **Buckets.** A queue's keys live in the slot of its `{queue}` hash tag;
//! the 16,384 slots are cut into [`DUE_BUCKETS`] ranges of 1,024, and the
//! index of a range has a hash tag chosen to fall inside it, so on a Cluster
//! a queue's index entry sits on its own queue's node (unless the range
//! straddles two nodes) and a shard that is down holds up only its own
//! queues. A tick costs one call per bucket, whatever the queue count.
//!
//! **Never late.** The index lives in another slot than the queue, so no
//! script can update both. Writers that add time-driven work (a delayed
//! enqueue, a retry, a lease) mark the queue with `ZADD LT` — only ever
//! earlier — and void the claim of any maintainer visiting it at that
//! moment ([`Client::mark_due`]); a maintainer that settles a queue whose
//! claim was voided only moves its entry earlier, never later, because the
//! work it did not see may be due before what it saw. A claim keeps others
//! off for [`CLAIM_HOLD`], so a maintainer that dies mid-visit only delays
//! its queues. What a crash between a write and its mark could leave
//! unindexed is caught by the sweeps: every queue is marked due when a host
//! starts and when a dead host is noticed ([`Client::mark_all_due`]), and
//! one host per deployment sweeps every [`SWEEP_PERIOD`].

use super::client::Client;
use super::error::BrokerResult;
use super::keys::hash_slot;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::{MAX_SCHEDULE_AHEAD, Schedule, unix_ms};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

/// How many due indexes a namespace has: ranges of 1,024 slots each.
pub const DUE_BUCKETS: usize = 16;

/// How long a claim keeps other maintainers off a queue.
pub const CLAIM_HOLD: Duration = Duration::from_secs(30);

/// How often one host of the deployment marks every queue due, as a
/// backstop for marks lost to a crash or an error.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(600);

/// Most marks sent in one call.
const MARK_CHUNK: usize = 500;

/// When a queue has work due, as a writer knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueAt {
    /// Now: maintain it on the next tick.
    Now,
    /// This long from now on Redis's clock.
    In(Duration),
    /// At this time, ms since the Unix epoch on Redis's clock.
    At(u64),
}

impl DueAt {
    fn arg(self) -> String {
        match self {
            DueAt::Now => "0".to_owned(),
            // Tasks are scheduled at most MAX_SCHEDULE_AHEAD ahead.
            DueAt::In(d) => format!("+{}", d.min(MAX_SCHEDULE_AHEAD).as_millis()),
            DueAt::At(ms) => format!("@{ms}"),
        }
    }
}

/// The marks a batch of tasks with these schedules needs: the shortest
/// delay and the earliest run-at time, if any (none for tasks due now).
pub(crate) fn earliest<'a>(schedules: impl Iterator<Item = &'a Schedule>) -> Vec<DueAt> {
    let (mut delay, mut at) = (None::<Duration>, None::<u64>);
    for schedule in schedules {
        match schedule {
            Schedule::Now => {}
            Schedule::Delay(d) => delay = Some(delay.map_or(*d, |x| x.min(*d))),
            Schedule::At(t) => {
                let ms = unix_ms(*t);
                at = Some(at.map_or(ms, |x| x.min(ms)));
            }
        }
    }
    delay
        .map(DueAt::In)
        .into_iter()
        .chain(at.map(DueAt::At))
        .collect()
}

/// The bucket of a queue: the range of 1,024 slots its keys live in.
pub fn bucket_of(queue: &str) -> usize {
    usize::from(hash_slot(&format!("{{{queue}}}"))) / (16384 / DUE_BUCKETS)
}

/// The hash tag of each bucket's index: the first `due-N` whose slot falls
/// in the bucket's range.
static TAGS: LazyLock<[String; DUE_BUCKETS]> = LazyLock::new(|| {
    std::array::from_fn(|bucket| {
        (0u32..)
            .map(|n| format!("due-{n}"))
            .find(|tag| bucket_of(tag) == bucket)
            .expect("every slot range has a due-N tag")
    })
});

/// The index and claims keys of `bucket` under namespace `ns`.
pub fn bucket_keys(ns: &str, bucket: usize) -> (String, String) {
    let tag = &TAGS[bucket % DUE_BUCKETS];
    (
        format!("{ns}:{{{tag}}}:due"),
        format!("{ns}:{{{tag}}}:claims"),
    )
}

impl Client {
    /// Marks queues as having work due by the given times (earlier entries
    /// stay), one call per bucket, concurrently. Writers call it after the
    /// write and, where a crash in between would strand the work, before.
    pub async fn mark_due(&self, marks: &[(&str, DueAt)]) -> BrokerResult<()> {
        let mut by_bucket: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (queue, at) in marks {
            let args = by_bucket.entry(bucket_of(queue)).or_default();
            args.push((*queue).to_owned());
            args.push(at.arg());
        }
        let calls = by_bucket.into_iter().flat_map(|(bucket, args)| {
            let chunks: Vec<Vec<String>> = args.chunks(2 * MARK_CHUNK).map(<[_]>::to_vec).collect();
            chunks.into_iter().map(move |chunk| (bucket, chunk))
        });
        let results = futures::future::join_all(calls.map(|(bucket, args)| async move {
            let (due, claims) = bucket_keys(&self.inner.opts.namespace, bucket);
            let op = format!("mark queues due in bucket {bucket}");
            let mut inv = SCRIPTS.due_mark.prepare_invoke();
            inv.key(&due).key(&claims).arg(&args[..]);
            self.invoke(&inv, &op).await.map(drop)
        }))
        .await;
        results.into_iter().collect()
    }

    /// [`Client::mark_due`] for one queue after its write succeeded: a
    /// failure is logged and counted (`wasmq_due_mark_errors_total`), not
    /// returned, since the write stands; the sweeps catch the queue later.
    pub(crate) async fn mark_due_or_warn(&self, queue: &str, at: DueAt) {
        if let Err(e) = self.mark_due(&[(queue, at)]).await {
            tracing::warn!(queue, error = %e, "could not mark the queue in its due index; a sweep will");
            metrics::counter!("wasmq_due_mark_errors_total", "queue" => queue.to_owned())
                .increment(1);
        }
    }

    /// Marks every known queue due now (a sweep); returns how many.
    pub async fn mark_all_due(&self) -> BrokerResult<u64> {
        let queues = self.queues().await?;
        let marks: Vec<(&str, DueAt)> = queues.iter().map(|q| (q.as_str(), DueAt::Now)).collect();
        self.mark_due(&marks).await?;
        Ok(queues.len() as u64)
    }

    /// Claims up to `limit` due queues of `bucket` under `token` (the
    /// maintainer's first step; public for tools and tests).
    pub async fn claim_due(
        &self,
        bucket: usize,
        limit: usize,
        token: &str,
    ) -> BrokerResult<Vec<String>> {
        let (due, claims) = bucket_keys(&self.inner.opts.namespace, bucket);
        let op = format!("claim due queues of bucket {bucket}");
        let mut inv = SCRIPTS.due_claim.prepare_invoke();
        inv.key(&due)
            .key(&claims)
            .arg(limit.max(1))
            .arg(CLAIM_HOLD.as_millis() as u64)
            .arg(token);
        let r = Reply::of(&op);
        let names = r.array(self.invoke(&inv, &op).await?)?;
        names.into_iter().map(|v| r.text(v)).collect()
    }

    /// Settles the entry of `queue`, claimed under `token`, to `next` (ms
    /// on Redis's clock), or removes it when `None`.
    pub async fn settle_due(
        &self,
        queue: &str,
        token: &str,
        next: Option<u64>,
    ) -> BrokerResult<()> {
        let (due, claims) = bucket_keys(&self.inner.opts.namespace, bucket_of(queue));
        let op = format!("settle the due entry of queue {queue:?}");
        let mut inv = SCRIPTS.due_settle.prepare_invoke();
        inv.key(&due)
            .key(&claims)
            .arg(token)
            .arg(queue)
            .arg(next.map(|ms| ms.to_string()).unwrap_or_default());
        self.invoke(&inv, &op).await.map(drop)
    }

    /// Every entry of every due index, `(queue, due ms)`, for tools and
    /// tests. Reads all buckets.
    pub async fn due_entries(&self) -> BrokerResult<Vec<(String, u64)>> {
        let mut entries = Vec::new();
        for bucket in 0..DUE_BUCKETS {
            let (due, _) = bucket_keys(&self.inner.opts.namespace, bucket);
            let found: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&due)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(format!("read due index {due}"), e))?;
            entries.extend(found.into_iter().map(|(q, ms)| (q, ms as u64)));
        }
        entries.sort();
        Ok(entries)
    }

    /// Takes the deployment's sweep turn if nobody took it in the last
    /// [`SWEEP_PERIOD`]; true when this caller should sweep.
    pub(crate) async fn take_sweep_turn(&self) -> BrokerResult<bool> {
        let key = format!("{}:{{{}}}:sweep", self.inner.opts.namespace, TAGS[0]);
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(SWEEP_PERIOD.as_millis() as u64)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail("take the due sweep turn", e))?;
        Ok(taken.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_bucket_index_sits_in_its_own_slot_range() {
        for bucket in 0..DUE_BUCKETS {
            let (due, claims) = bucket_keys("wasmq", bucket);
            let range = 16384 / DUE_BUCKETS;
            assert_eq!(usize::from(hash_slot(&due)) / range, bucket, "{due}");
            assert_eq!(hash_slot(&due), hash_slot(&claims));
        }
    }

    #[test]
    fn a_batch_marks_its_shortest_delay_and_earliest_time() {
        let at = |ms| Schedule::At(std::time::UNIX_EPOCH + Duration::from_millis(ms));
        let batch = [
            Schedule::Now,
            Schedule::Delay(Duration::from_secs(9)),
            at(5_000),
            Schedule::Delay(Duration::from_secs(2)),
            at(4_000),
        ];
        assert_eq!(
            earliest(batch.iter()),
            [DueAt::In(Duration::from_secs(2)), DueAt::At(4_000)]
        );
        assert!(earliest([Schedule::Now].iter()).is_empty());
    }

    #[test]
    fn marks_are_written_for_the_script() {
        assert_eq!(DueAt::Now.arg(), "0");
        assert_eq!(DueAt::In(Duration::from_millis(1500)).arg(), "+1500");
        assert_eq!(DueAt::At(1_700_000_000_123).arg(), "@1700000000123");
        let far = format!("+{}", MAX_SCHEDULE_AHEAD.as_millis());
        assert_eq!(DueAt::In(Duration::MAX).arg(), far, "bounded at the edge");
    }

    proptest! {
        #[test]
        fn a_queue_and_its_index_share_a_slot_range(queue in "[A-Za-z0-9_.-]{1,64}") {
            let bucket = bucket_of(&queue);
            prop_assert!(bucket < DUE_BUCKETS);
            let (due, _) = bucket_keys("ns", bucket);
            let range = 16384 / DUE_BUCKETS;
            prop_assert_eq!(
                usize::from(hash_slot(&format!("ns:{{{queue}}}:t"))) / range,
                usize::from(hash_slot(&due)) / range
            );
        }
    }
}
