//! Child tasks between their parent's ack and their own queues.
//!
//! A run's children must be committed atomically with its ack, but their
//! queues live in other hash slots on a Cluster, where one script cannot
//! reach them. So the ack writes them to the parent queue's outbox
//! (`<ns>:{queue}:outbox`, one field per parent) in its own script, and
//! [`Client::forward_children`] moves them on: it reads the outbox, runs
//! `forward.lua` once per target queue (and chunk), then deletes the
//! parents it delivered. A forwarder that dies between the two steps leaves
//! the entry to be forwarded again, by this host or any other; that repeat
//! is a no-op, because each child keeps the id derived from its parent's
//! (`task::child_local_id`) and `forward.lua` skips an id its queue holds or
//! forwarded within [`FORWARDED_KEEP`].
//!
//! The forwarder runs right after an ack that committed children (the
//! worker's settler) and in every maintenance tick whose `maintain.lua`
//! call saw a non-empty outbox, which picks up what a crashed host left.
//!
//! Entry format (binary-safe, one per child, concatenated):
//! `<queue> <local id> <delay ms> <record length>\n<record>`, the record
//! being the task body `forward.lua` stores ([`TaskRecord::encode`]).

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::options::{MAX_BATCH, MAX_CALL_BYTES, millis, split_calls};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::{ChildSpec, TaskRecord};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::{error, instrument, warn};

/// How long a queue remembers the ids of children forwarded to it. A
/// repeated forward within this window is a no-op even when the child has
/// already run; a child still held by its queue is never duplicated.
pub const FORWARDED_KEEP: Duration = Duration::from_secs(3600);

/// What one forwarding call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardReport {
    /// Children enqueued to their queues.
    pub forwarded: u64,
    /// Children their queue already had (a repeated forward).
    pub already: u64,
    /// Outbox entries (parents) delivered and deleted.
    pub parents: u64,
    /// Whether the outbox held more than this call read.
    pub more: bool,
}

/// One child as it travels in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parcel {
    pub queue: String,
    pub local: String,
    pub level: u8,
    pub delay_ms: u64,
    pub record: Vec<u8>,
}

/// Encodes a run's children for its outbox field ('' for none).
pub(crate) fn encode(children: &[ChildSpec], default_retries: u32, now_ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for child in children {
        let record = TaskRecord {
            priority: child.priority,
            max_retries: child.max_retries.unwrap_or(default_retries),
            timeout_ms: 0,
            fuel: None,
            enqueued_at_ms: now_ms,
            payload: child.payload.clone(),
        }
        .encode();
        let head = format!(
            "{} {} {} {}\n",
            child.id.queue(),
            child.id.local(),
            millis(child.delay),
            record.len()
        );
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&record);
    }
    out
}

/// Decodes an outbox field; `None` if it is not in the format above.
pub(crate) fn decode(mut bytes: &[u8]) -> Option<Vec<Parcel>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let nl = bytes.iter().take(256).position(|b| *b == b'\n')?;
        let head = std::str::from_utf8(&bytes[..nl]).ok()?;
        let mut parts = head.split(' ');
        let (queue, local) = (parts.next()?, parts.next()?);
        let delay_ms = parts.next()?.parse().ok()?;
        let len: usize = parts.next()?.parse().ok()?;
        let rest = &bytes[nl + 1..];
        if parts.next().is_some() || rest.len() < len {
            return None;
        }
        let record = rest[..len].to_vec();
        let level = TaskRecord::decode(&record).ok()?.priority.level();
        crate::task::TaskId::new(queue, local).ok()?;
        out.push(Parcel {
            queue: queue.to_owned(),
            local: local.to_owned(),
            level,
            delay_ms,
            record,
        });
        bytes = &rest[len..];
    }
    Some(out)
}

impl Client {
    /// Moves the children waiting in `queue`'s outbox (at most `limit`
    /// parents per call) to their queues, idempotently, then deletes the
    /// parents delivered. A target queue that fails keeps its parents in
    /// the outbox, for a later call, and fails the call once the others
    /// are delivered. A malformed entry is logged, counted in
    /// `wasmq_outbox_malformed_total` and dropped.
    #[instrument(skip_all, fields(kind = queue))]
    pub async fn forward_children(&self, queue: &str, limit: usize) -> BrokerResult<ForwardReport> {
        let keys = self.keys(queue)?;
        let op = format!("read the outbox of queue {queue:?}");
        let (cursor, entries): (u64, Vec<(String, Vec<u8>)>) = redis::cmd("HSCAN")
            .arg(&keys.outbox)
            .arg(0)
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        let mut report = ForwardReport {
            more: cursor != 0,
            ..ForwardReport::default()
        };
        let mut by_queue: BTreeMap<String, Vec<(usize, Parcel)>> = BTreeMap::new();
        let mut parents: Vec<(String, bool)> = Vec::with_capacity(entries.len());
        for (index, (parent, value)) in entries.into_iter().enumerate() {
            match decode(&value) {
                Some(parcels) => {
                    for parcel in parcels {
                        by_queue
                            .entry(parcel.queue.clone())
                            .or_default()
                            .push((index, parcel));
                    }
                }
                None => {
                    error!(queue, parent = %parent, "dropped a malformed outbox entry");
                    metrics::counter!("wasmq_outbox_malformed_total", "queue" => queue.to_owned())
                        .increment(1);
                }
            }
            parents.push((parent, true));
        }
        let mut failure = None;
        for (target, parcels) in &by_queue {
            match self.deliver(target, parcels, &mut report).await {
                Ok(()) => {}
                Err(e) => {
                    warn!(queue, target = %target, error = %e, "could not forward children; they stay in the outbox");
                    for (index, _) in parcels {
                        parents[*index].1 = false;
                    }
                    failure = Some(e);
                }
            }
        }
        let done: Vec<&str> = parents
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(p, _)| p.as_str())
            .collect();
        if !done.is_empty() {
            redis::cmd("HDEL")
                .arg(&keys.outbox)
                .arg(&done)
                .exec_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(format!("clear the outbox of queue {queue:?}"), e))?;
            report.parents = done.len() as u64;
        }
        metrics::counter!("wasmq_children_forwarded_total", "queue" => queue.to_owned())
            .increment(report.forwarded);
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Runs `forward.lua` on `target` for `parcels`, in calls cut by count
    /// and bytes.
    async fn deliver(
        &self,
        target: &str,
        parcels: &[(usize, Parcel)],
        report: &mut ForwardReport,
    ) -> BrokerResult<()> {
        let keys = self.keys(target)?;
        self.register_queue(target).await?;
        let sizes = parcels.iter().map(|(_, p)| p.record.len() + 96);
        for range in split_calls(sizes, MAX_BATCH, MAX_CALL_BYTES) {
            let chunk = &parcels[range];
            // Delayed children are indexed before and after (due.rs).
            let delay = chunk
                .iter()
                .map(|(_, p)| p.delay_ms)
                .filter(|d| *d > 0)
                .min();
            let due = delay.map(|ms| super::due::DueAt::In(std::time::Duration::from_millis(ms)));
            let marks: Vec<(&str, super::due::DueAt)> =
                due.iter().map(|at| (target, *at)).collect();
            self.mark_due(&marks).await?;
            let mut inv = SCRIPTS.forward.prepare_invoke();
            inv.wake_channel(self.wake_channel())
                .key(&keys.tasks)
                .key(&keys.pending[..])
                .key(&keys.scheduled)
                .key(&keys.stats)
                .key(&keys.wake)
                .key(&keys.forwarded)
                .arg(millis(FORWARDED_KEEP))
                .arg(chunk.len());
            for (_, p) in chunk {
                inv.arg(&p.local)
                    .arg(p.level)
                    .arg(p.delay_ms)
                    .arg(&p.record);
            }
            let op = format!("forward children to queue {target:?}");
            let r = Reply::of(&op);
            let mut flags = r.array(self.invoke(&inv, &op).await?)?;
            if flags.len() == chunk.len() + 1 {
                flags.pop();
                self.forget_registered(target);
                self.register_queue(target).await?;
            }
            if flags.len() != chunk.len() {
                return Err(BrokerError::reply(
                    &op,
                    format!("{} flags for {} children", flags.len(), chunk.len()),
                ));
            }
            if let Some(at) = due {
                self.mark_due_or_warn(target, at).await;
            }
            for flag in &flags {
                match r.int(flag)? {
                    1 => report.forwarded += 1,
                    _ => report.already += 1,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{ChildOptions, Priority};
    use proptest::prelude::*;

    proptest! {
        /// What the ack writes, the forwarder reads back unchanged.
        #[test]
        fn entries_round_trip(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            delay_ms in 0u64..1_000_000,
        ) {
            let children: Vec<ChildSpec> = payloads.iter().enumerate().map(|(i, p)| {
                ChildSpec::new("fanout:1", i as u32, "echo", p.clone(), ChildOptions {
                    priority: Priority::High,
                    delay: Duration::from_millis(delay_ms),
                    max_retries: Some(2),
                }, 1 << 20).unwrap()
            }).collect();
            let parcels = decode(&encode(&children, 3, 42)).unwrap();
            prop_assert_eq!(parcels.len(), children.len());
            for (parcel, child) in parcels.iter().zip(&children) {
                prop_assert_eq!(&parcel.local, child.id.local());
                prop_assert_eq!(parcel.queue.as_str(), "echo");
                prop_assert_eq!(parcel.level, 0);
                prop_assert_eq!(parcel.delay_ms, delay_ms);
                let record = TaskRecord::decode(&parcel.record).unwrap();
                prop_assert_eq!(&record.payload, &child.payload);
                prop_assert_eq!(record.max_retries, 2);
            }
        }

        #[test]
        fn garbage_is_refused_not_panicked_on(bytes in proptest::collection::vec(any::<u8>(), 1..200)) {
            let _ = decode(&bytes);
        }
    }
}
