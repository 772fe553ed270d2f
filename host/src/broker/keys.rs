//! The Redis key layout, in one place.
//!
//! Every key of a queue carries the queue name as a Redis Cluster hash tag,
//! `<ns>:{<queue>}:<suffix>`, so all of a queue's keys live in one slot and a
//! single Lua script can move a task between them atomically. Scripts receive
//! every key they touch in `KEYS` (none is built inside Lua), which is what
//! Redis Cluster requires to route them. The full table is in `docs/keys.md`.
//!
//! Global keys (`<ns>:queues`, the host registry) are touched only by plain
//! commands, never inside a queue's script.

use crate::error::{ValidationError, validate_namespace, validate_queue_name};

/// Every key of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    /// The queue name.
    pub queue: String,
    /// `HASH local id -> task body` (header line + payload).
    pub tasks: String,
    /// `LIST`s of pending local ids, by priority level (0 = high).
    pub pending: [String; 3],
    /// `ZSET local id -> due ms` of scheduled (delayed) tasks.
    pub scheduled: String,
    /// `ZSET local id -> due ms` of tasks waiting out a retry backoff.
    pub retry: String,
    /// `ZSET local id -> lease deadline ms` of leased tasks.
    pub active: String,
    /// `HASH local id -> lease token` of leased tasks.
    pub lease: String,
    /// `HASH local id -> attempt|started|finished|version|reason|error`.
    pub meta: String,
    /// `ZSET local id -> died ms`: the dead-letter set.
    pub dead: String,
    /// `SET` of active local ids whose cancellation was requested.
    pub cancel: String,
    /// `HASH` of counters (enqueued, completed, failed, retried, dead, ...).
    pub stats: String,
    /// `HASH c:<minute>|f:<minute> -> count`: completed and failed per minute.
    pub throughput: String,
    /// `STRING` that exists while the queue is paused.
    pub paused: String,
    /// `LIST` of wake-up tokens that idle consumers block on.
    pub wake: String,
    /// `LIST` of foreign or malformed members set aside (last 1000).
    pub garbage: String,
    /// `STRING` counter behind the local ids.
    pub seq: String,
    /// `ZSET bucket number -> bucket start ms` of the result buckets that exist.
    pub result_index: String,
    /// `HASH parent local id -> encoded children`: child tasks committed
    /// by the ack of their parent (a task of this queue), waiting for the
    /// forwarder to move them to their queues (see `forward.rs`).
    pub outbox: String,
    /// `ZSET child local id -> forwarded ms`: the child tasks forwarded to
    /// this queue lately, so that a repeated forward is a no-op.
    pub forwarded: String,
    /// `ZSET parent local id -> enqueued ms`: flow parents of this queue
    /// waiting for their dependencies (see `flows.rs`).
    pub waiting: String,
    /// `HASH rate, period, burst, concurrency, set_at`: the queue's limits
    /// across all hosts (see `ratelimit`); absent means the manifest's.
    pub limits: String,
    /// `STRING` GCRA state of the rate limit: the theoretical arrival time
    /// of the next task, µs on Redis's clock; expires once in the past.
    pub rate_state: String,
    /// `STRING` that exists (with a TTL) while leasing is throttled after a
    /// plugin's retry-after (`throttle_on_retry_after`).
    pub throttle: String,
    prefix: String,
}

impl QueueKeys {
    /// The keys of `queue` under namespace `ns`, after validating both.
    pub fn new(ns: &str, queue: &str) -> Result<Self, ValidationError> {
        validate_namespace(ns)?;
        validate_queue_name(queue)?;
        let prefix = format!("{ns}:{{{queue}}}:");
        let key = |suffix: &str| format!("{prefix}{suffix}");
        Ok(Self {
            queue: queue.to_owned(),
            tasks: key("t"),
            pending: [key("p0"), key("p1"), key("p2")],
            scheduled: key("scheduled"),
            retry: key("retry"),
            active: key("active"),
            lease: key("lease"),
            meta: key("meta"),
            dead: key("dead"),
            cancel: key("cancel"),
            stats: key("stats"),
            throughput: key("tp"),
            paused: key("paused"),
            wake: key("wake"),
            garbage: key("garbage"),
            seq: key("seq"),
            result_index: key("resix"),
            outbox: key("outbox"),
            forwarded: key("fwd"),
            waiting: key("waiting"),
            limits: key("limits"),
            rate_state: key("rl"),
            throttle: key("throttle"),
            prefix,
        })
    }

    /// `HASH local id -> final record` of the tasks that completed or were
    /// cancelled during one time bucket (see `results.rs`).
    pub fn result_bucket(&self, number: u64) -> String {
        format!("{}res:{number}", self.prefix)
    }

    /// The name the final record of one task had before result buckets
    /// (`<ns>:{Q}:r:<id>`). **Nothing writes these keys any more**: kept only
    /// so existing callers compile. Watch completions with
    /// [`crate::Client::completion_subscription`] instead.
    pub fn result(&self, local_id: &str) -> String {
        format!("{}r:{local_id}", self.prefix)
    }

    /// `HASH` of one flow parent (`fl:<local id>`): its body, policy,
    /// dependencies and the outcome of each settled one (see `flows.rs`).
    pub fn flow(&self, local_id: &str) -> String {
        format!("{}fl:{local_id}", self.prefix)
    }

    /// `HASH` of what one flow parent's dependencies produced
    /// (`fr:<local id>`): `o:`/`t:`/`e:<dependency id>` for the output, its
    /// content type and the error. Apart from `fl:`, which every resolver
    /// pass reads whole, so outputs are read once, by the run.
    pub fn flow_results(&self, local_id: &str) -> String {
        format!("{}fr:{local_id}", self.prefix)
    }

    /// `HASH` of one task's run history (`run:<local id>`): how each
    /// attempt ended, its log and the last progress (see `runs.rs`).
    pub fn run(&self, local_id: &str) -> String {
        format!("{}run:{local_id}", self.prefix)
    }

    /// `HASH` of the plugin cost histograms of one 5-minute window
    /// (`cost:<window>`, see `costs.rs`).
    pub fn cost(&self, window: u64) -> String {
        format!("{}cost:{window}", self.prefix)
    }

    /// `STRING unique key -> local id`, with the unique TTL.
    pub fn unique(&self, unique_key: &str) -> String {
        format!("{}u:{unique_key}", self.prefix)
    }

    /// The pending list of a priority level (0-2).
    pub fn pending_level(&self, level: u8) -> &str {
        &self.pending[usize::from(level.min(2))]
    }

    /// Every fixed key of the queue, for tools that list or delete them.
    pub fn all_fixed(&self) -> Vec<&str> {
        let mut keys = vec![
            self.tasks.as_str(),
            &self.scheduled,
            &self.retry,
            &self.active,
            &self.lease,
            &self.meta,
            &self.dead,
            &self.cancel,
            &self.stats,
            &self.throughput,
            &self.paused,
            &self.wake,
            &self.garbage,
            &self.seq,
            &self.result_index,
            &self.outbox,
            &self.forwarded,
            &self.waiting,
            &self.limits,
            &self.rate_state,
            &self.throttle,
        ];
        keys.extend(self.pending.iter().map(String::as_str));
        keys
    }
}

/// Keys shared by all queues of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalKeys {
    /// `SET` of queue names ever enqueued to.
    pub queues: String,
    /// Pub/sub channel on which cancellations of active tasks are announced
    /// (message = full task id).
    pub cancel_channel: String,
    /// Pub/sub channel on which acks announce completed tasks
    /// (message = `<queue> <local id> <local id> ...`).
    pub done_channel: String,
    /// Pub/sub channel on which retry and dead-letter calls announce failed
    /// attempts (message = `<queue> <local id>`).
    pub failed_channel: String,
    /// Pub/sub channel on which, on Redis Cluster, a wake token pushed into
    /// an empty wake list is announced (message = the wake list's name;
    /// see `waiter.rs`).
    pub wake_channel: String,
    /// `ZSET host id -> last heartbeat ms`.
    pub host_index: String,
    host_prefix: String,
}

impl GlobalKeys {
    /// The global keys of namespace `ns`.
    pub fn new(ns: &str) -> Result<Self, ValidationError> {
        validate_namespace(ns)?;
        Ok(Self {
            queues: format!("{ns}:queues"),
            cancel_channel: format!("{ns}:cancel"),
            done_channel: format!("{ns}:done"),
            failed_channel: format!("{ns}:failed"),
            wake_channel: format!("{ns}:wake"),
            host_index: format!("{ns}:{{hosts}}:index"),
            host_prefix: format!("{ns}:{{hosts}}:h:"),
        })
    }

    /// `STRING` JSON heartbeat of one host, expiring with the heartbeat TTL.
    /// Shares the `{hosts}` hash tag with the index so MGET works on Cluster.
    pub fn host(&self, host_id: &str) -> String {
        format!("{}{host_id}", self.host_prefix)
    }
}

/// The Redis Cluster hash slot of a key (CRC16/XMODEM of the hash tag, mod
/// 16384), used by tests to prove a queue's keys share one slot.
pub fn hash_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|b| *b == b'{').and_then(|open| {
        let rest = &bytes[open + 1..];
        let close = rest.iter().position(|b| *b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(bytes)) % 16384
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in data {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_slots() {
        // Values from the Redis Cluster specification's examples.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(
            hash_slot("{user1000}.following"),
            hash_slot("{user1000}.followers")
        );
        assert_eq!(hash_slot("foo{}{bar}"), hash_slot("foo{}{bar}"));
        assert_eq!(hash_slot("foo"), 12182);
    }

    #[test]
    fn layout() {
        let k = QueueKeys::new("wasmq", "email").unwrap();
        assert_eq!(k.tasks, "wasmq:{email}:t");
        assert_eq!(k.pending_level(0), "wasmq:{email}:p0");
        assert_eq!(k.result_bucket(7), "wasmq:{email}:res:7");
        assert_eq!(k.unique("welcome:42"), "wasmq:{email}:u:welcome:42");
        assert!(QueueKeys::new("wasmq", "bad{name}").is_err());
        assert!(QueueKeys::new("ns{x}", "email").is_err());
    }

    proptest! {
        #[test]
        fn one_slot_per_queue(
            ns in "[a-z][a-z0-9:_.-]{0,20}",
            queue in "[A-Za-z0-9_.-]{1,64}",
            local in "[a-z0-9]{1,13}",
            unique in ".{1,40}",
        ) {
            let k = QueueKeys::new(&ns, &queue).unwrap();
            let slot = hash_slot(&k.tasks);
            let prefix = format!("{}:{{{}}}:", ns, queue);
            for key in k.all_fixed() {
                prop_assert_eq!(hash_slot(key), slot, "{}", key);
                prop_assert!(key.starts_with(&prefix));
            }
            prop_assert_eq!(hash_slot(&k.result_bucket(local.len() as u64)), slot);
            prop_assert_eq!(hash_slot(&k.unique(&unique)), slot);
            prop_assert_eq!(hash_slot(&k.run(&local)), slot);
            prop_assert_eq!(hash_slot(&k.cost(local.len() as u64)), slot);
            prop_assert_eq!(slot, hash_slot(&queue));
        }

        #[test]
        fn host_keys_share_a_slot(ns in "[a-z][a-z0-9_.-]{0,20}", host in "[a-z0-9-]{1,30}") {
            let g = GlobalKeys::new(&ns).unwrap();
            prop_assert_eq!(hash_slot(&g.host(&host)), hash_slot(&g.host_index));
        }
    }
}
