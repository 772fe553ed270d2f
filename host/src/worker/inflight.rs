//! Every lease this host holds, from the lease until Redis has the verdict.
//! The loops that look after them (extension, cancellation) are in
//! [`super::keeper`].
//!
//! The table holds leases without their payloads: the payload travels with
//! the task to the executor (see [`super::Ticket`]) and is never copied.
//!
//! Entries are keyed by lease ([`LeaseKey`]: task id and lease token), not
//! by task id. One host can hold two leases of one task: the first expired
//! while the host was frozen (a stop signal, a stalled VM) and the reaper
//! handed the task back, to the head of its list, where this same host
//! leased it again. Keyed by id, the first run's verdict would settle the
//! second lease and the second run's verdict would be dropped; keyed by
//! lease, each verdict settles the lease its run held, and the stale one is
//! refused by Redis as it should be.

use crate::broker::{LeaseKey, LeasedTask};
use crate::runtime::CancelToken;
use crate::task::TaskId;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug)]
struct Entry {
    /// The lease, with its payload taken out.
    lease: LeasedTask,
    cancel: CancelToken,
    /// Its verdict is on its way to Redis: no longer extended (an extension
    /// racing the ack would report a lease lost that was merely settled).
    settling: bool,
    /// Once its run started: the run's deadline plus [`EXTEND_GRACE`]. Past
    /// it the lease is no longer extended, whatever the run does.
    extend_until: Option<Instant>,
}

/// How long past its run's deadline a lease is still extended: the run is
/// stopped at its deadline, and its verdict needs a moment to reach Redis.
pub const EXTEND_GRACE: Duration = Duration::from_secs(5);

/// The leases this host holds.
#[derive(Debug, Default)]
pub struct Inflight {
    map: Mutex<HashMap<LeaseKey, Entry>>,
    /// Wakes the leaser when settled leases were forgotten (room to lease).
    forgotten: Notify,
}

impl Inflight {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<LeaseKey, Entry>) -> R) -> R {
        f(&mut self.map.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records a new lease (its payload must already be taken out) and
    /// returns the token that cancels its run.
    pub fn insert(&self, lease: LeasedTask) -> CancelToken {
        let cancel = CancelToken::new();
        let key = lease.key();
        self.with(|map| {
            map.insert(
                key,
                Entry {
                    lease,
                    cancel: cancel.clone(),
                    settling: false,
                    extend_until: None,
                },
            )
        });
        metrics::gauge!("wasmq_leases_in_flight").increment(1.0);
        cancel
    }

    /// Records that the run holding `key` started with this timeout: its
    /// lease is extended until the run's deadline plus [`EXTEND_GRACE`].
    pub fn running(&self, key: &LeaseKey, timeout: Duration) {
        let until = Instant::now() + timeout + EXTEND_GRACE;
        self.with(|map| {
            if let Some(entry) = map.get_mut(key) {
                entry.extend_until = Some(until);
            }
        });
    }

    /// The lease `key`, if held, for its settlement call; from now on it is
    /// no longer extended.
    pub fn settle(&self, key: &LeaseKey) -> Option<LeasedTask> {
        self.with(|map| {
            map.get_mut(key).map(|e| {
                e.settling = true;
                e.lease.clone()
            })
        })
    }

    /// Resolves after leases were forgotten since the last call.
    pub async fn forgotten(&self) {
        self.forgotten.notified().await;
    }

    /// True while lease `key` is held and has no verdict on its way.
    pub fn is_unsettled(&self, key: &LeaseKey) -> bool {
        self.with(|map| map.get(key).is_some_and(|e| !e.settling))
    }

    /// Forgets settled leases (only those: another lease of the same task
    /// stays).
    pub fn remove(&self, keys: impl IntoIterator<Item = LeaseKey>) {
        let removed = self.with(|map| {
            keys.into_iter()
                .filter(|key| map.remove(key).is_some())
                .count()
        });
        metrics::gauge!("wasmq_leases_in_flight").decrement(removed as f64);
        self.forgotten.notify_one();
    }

    /// Trips the cancel token of every lease of task `id` this host holds
    /// (cancellation is asked of the task, whichever run has it); false if
    /// it holds none. A scan: cancellations are rare, and the table holds at
    /// most a few thousand leases.
    pub fn cancel(&self, id: &TaskId) -> bool {
        self.with(|map| {
            let mut found = false;
            for (key, entry) in map.iter() {
                if key.id == *id {
                    entry.cancel.cancel();
                    found = true;
                }
            }
            found
        })
    }

    /// Trips every cancel token (forced shutdown); returns how many.
    pub fn cancel_all(&self) -> usize {
        self.with(|map| {
            map.values().for_each(|e| e.cancel.cancel());
            map.len()
        })
    }

    /// How many leases are held.
    pub fn len(&self) -> usize {
        self.with(|map| map.len())
    }

    /// Every held lease to extend: no verdict yet, and not past its run's
    /// deadline plus grace (without payloads).
    pub fn leases(&self) -> Vec<LeasedTask> {
        let now = Instant::now();
        self.with(|map| {
            map.values()
                .filter(|e| !e.settling && e.extend_until.is_none_or(|until| now < until))
                .map(|e| e.lease.clone())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::test_lease;

    #[test]
    fn two_leases_of_one_task_are_settled_each_by_its_own_token() {
        let inflight = Inflight::default();
        let id: TaskId = "email:1a".parse().unwrap();
        // The first run's lease expired while the host was frozen; the same
        // host leased the task again under a new token.
        let first = test_lease(id.clone(), "aaaa");
        let second = test_lease(id.clone(), "bbbb");
        let first_cancel = inflight.insert(first.clone());
        let second_cancel = inflight.insert(second.clone());
        assert_eq!(
            inflight.len(),
            2,
            "the second lease must not replace the first"
        );

        // The first run's verdict settles the first lease, with its token.
        let settling = inflight.settle(&first.key()).unwrap();
        assert_eq!(settling.token(), "aaaa");
        assert!(!inflight.is_unsettled(&first.key()));
        assert!(inflight.is_unsettled(&second.key()));
        // The second lease is still extended.
        let extended: Vec<String> = inflight
            .leases()
            .iter()
            .map(|l| l.token().to_owned())
            .collect();
        assert_eq!(extended, ["bbbb"]);

        // Forgetting the first leaves the second held, and its verdict lands.
        inflight.remove([first.key()]);
        assert_eq!(inflight.len(), 1);
        assert_eq!(inflight.settle(&second.key()).unwrap().token(), "bbbb");
        assert!(inflight.settle(&first.key()).is_none());

        // A cancellation is asked of the task: every run of it stops.
        let third = test_lease(id.clone(), "cccc");
        let third_cancel = inflight.insert(third);
        assert!(inflight.cancel(&id));
        assert!(second_cancel.is_cancelled() && third_cancel.is_cancelled());
        assert!(
            !first_cancel.is_cancelled(),
            "a forgotten lease is not touched"
        );
    }

    #[test]
    fn a_lease_is_extended_only_until_its_runs_deadline_plus_grace() {
        let inflight = Inflight::default();
        let running = test_lease("sleep:1".parse().unwrap(), "aaaa");
        let waiting = test_lease("sleep:2".parse().unwrap(), "bbbb");
        inflight.insert(running.clone());
        inflight.insert(waiting.clone());
        inflight.running(&running.key(), Duration::from_secs(60));
        assert_eq!(inflight.leases().len(), 2, "both are within their bounds");
        // A run whose deadline and grace are behind it: its lease lapses.
        inflight.with(|map| {
            map.get_mut(&running.key()).unwrap().extend_until = Some(Instant::now());
        });
        let extended: Vec<String> = inflight
            .leases()
            .iter()
            .map(|l| l.token().to_owned())
            .collect();
        assert_eq!(extended, ["bbbb"], "a buffered lease is still extended");
    }
}
