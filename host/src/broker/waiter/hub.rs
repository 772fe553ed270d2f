//! One wake subscription per client, shared by its waiters (Redis Cluster).
//!
//! A [`WakeHub`] holds the subscription to `<ns>:wake` (one connection per
//! node, whatever the number of queues; classic `PUBLISH` reaches every
//! node) in a task of its own, and turns each notice, the name of a wake
//! list that just got a token, into a mark for every waiter that listens
//! for that list, waking it through its own [`Notify`]. A waiter then takes
//! the token itself (`waiter.rs`).
//!
//! Everything is bounded, whoever reads or not: a waiter listens for at most
//! [`MAX_TRACKED`] wake lists, and its marks are a set of those, so notices
//! that nobody takes cost nothing more than the set already holds. A notice
//! for a list nobody listens for is dropped. The work per notice is one set
//! lookup per waiter of this client (a host has one).
//!
//! Notices sent while the subscription was down (a node failed over, Redis
//! restarted) are lost, and so are those sent before a waiter listened for
//! a list. So every (re)subscription marks every listened-for list, and so
//! does a waiter's first listen for a list once the hub is subscribed: the
//! waiter then looks at each (one `LPOP`), as `BLPOP` would have on
//! blocking. Until the subscription is back, a wait that times out says it
//! may have missed tokens (`Waiter::hears_everything` is false), and the
//! host's leaser looks at every queue after it.

use super::super::client::Client;
use super::super::subscription::Heard;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::warn;

/// Most wake lists one waiter listens for. A wait on more queues listens
/// for the first `MAX_TRACKED`; its caller looks at the others itself
/// (`Waiter::max_queues`).
pub(crate) const MAX_TRACKED: usize = 10_000;

/// First and longest pause between two failed attempts to subscribe.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The subscription and the marks; ends the subscription when dropped (the
/// last waiter of the client is gone).
pub(crate) struct WakeHub {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for WakeHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Whether a subscription is confirmed and not lost since: a
    /// confirmation marks every listened-for list, so a listen before it
    /// need not.
    subscribed: bool,
    next_id: u64,
    listeners: HashMap<u64, Slot>,
}

/// One waiter's lists: those it listens for, and those heard of since it
/// last took them (a subset).
struct Slot {
    tracked: HashSet<String>,
    heard: HashSet<String>,
    notify: Arc<Notify>,
}

impl Client {
    /// The hub of this client's waiters, started on first use.
    pub(crate) fn wake_hub(&self) -> Arc<WakeHub> {
        let mut hub = self
            .inner
            .wake_hub
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(running) = hub.upgrade() {
            return running;
        }
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(listen(self.clone(), shared.clone()));
        let running = Arc::new(WakeHub { shared, task });
        *hub = Arc::downgrade(&running);
        running
    }
}

/// Subscribes, then turns what it hears into marks, forever; subscribes
/// again with backoff when that fails (or, with a connection that does not
/// reconnect by itself, when it ends).
async fn listen(client: Client, shared: Arc<Shared>) {
    let mut retry = RETRY_FIRST;
    loop {
        match client.wake_subscription().await {
            Ok(mut subscription) => {
                retry = RETRY_FIRST;
                shared.gap();
                while let Some(heard) = subscription.next_heard().await {
                    match heard {
                        Heard::Message(list) => shared.heard(&list),
                        Heard::Subscribed => shared.gap(),
                    }
                }
                // Notices sent from now until the next subscription are lost.
                shared.lock().subscribed = false;
            }
            Err(e) => {
                metrics::counter!("wasmq_wake_subscribe_errors_total").increment(1);
                warn!(error = %e, retry_in_ms = retry.as_millis() as u64,
                    "subscribing to wake notices failed; idle hosts look at each wait timeout");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A notice: marks `list` for every waiter that listens for it.
    fn heard(&self, list: &str) {
        metrics::counter!("wasmq_wake_notices_total").increment(1);
        for slot in self.lock().listeners.values_mut() {
            if slot.tracked.contains(list) {
                slot.heard.insert(list.to_owned());
                slot.notify.notify_one();
            }
        }
    }

    /// A (re)subscription: notices may have been missed, so marks every
    /// listened-for list.
    fn gap(&self) {
        metrics::counter!("wasmq_wake_subscribes_total").increment(1);
        let mut state = self.lock();
        state.subscribed = true;
        for slot in state.listeners.values_mut() {
            slot.heard.extend(slot.tracked.iter().cloned());
            slot.notify.notify_one();
        }
    }
}

impl WakeHub {
    /// Whether the subscription is up, so that notices are heard (false
    /// before the first one and from its loss until it is back).
    pub(crate) fn hears(&self) -> bool {
        self.shared.lock().subscribed
    }

    /// A place for one waiter.
    pub(crate) fn listen(self: &Arc<Self>) -> Listener {
        let notify = Arc::new(Notify::new());
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        let slot = Slot {
            tracked: HashSet::new(),
            heard: HashSet::new(),
            notify: notify.clone(),
        };
        state.listeners.insert(id, slot);
        Listener {
            hub: self.clone(),
            id,
            notify,
        }
    }
}

/// One waiter's place in the hub; leaves it when dropped.
pub(crate) struct Listener {
    hub: Arc<WakeHub>,
    id: u64,
    notify: Arc<Notify>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.hub.shared.lock().listeners.remove(&self.id);
    }
}

impl Listener {
    /// Whether its hub's subscription is up ([`WakeHub::hears`]).
    pub(crate) fn hub_hears(&self) -> bool {
        self.hub.hears()
    }

    /// Listens for `lists` too (at most [`MAX_TRACKED`] in all: past that,
    /// it listens for `lists` alone). A list it did not listen for yet is
    /// marked, once the hub is subscribed: its notice may have been missed.
    pub(crate) fn track<'a>(&self, lists: impl Iterator<Item = &'a String> + Clone) {
        let mut state = self.hub.shared.lock();
        let subscribed = state.subscribed;
        let Some(slot) = state.listeners.get_mut(&self.id) else {
            return;
        };
        let fresh = lists.clone().filter(|l| !slot.tracked.contains(*l)).count();
        if fresh == 0 {
            return;
        }
        if slot.tracked.len() + fresh > MAX_TRACKED {
            let old = std::mem::take(&mut slot.tracked);
            slot.tracked = lists.take(MAX_TRACKED).cloned().collect();
            slot.heard.retain(|l| slot.tracked.contains(l));
            if subscribed {
                let fresh = slot.tracked.iter().filter(|l| !old.contains(*l)).cloned();
                slot.heard.extend(fresh.collect::<Vec<_>>());
            }
            return;
        }
        for list in lists {
            if slot.tracked.insert(list.clone()) && subscribed {
                slot.heard.insert(list.clone());
            }
        }
    }

    /// Takes the marks of the lists in `wanted`; the others stay.
    pub(crate) fn take_heard<V>(&self, wanted: &HashMap<String, V>) -> Vec<String> {
        let mut state = self.hub.shared.lock();
        let Some(slot) = state.listeners.get_mut(&self.id) else {
            return Vec::new();
        };
        let taken: Vec<String> = slot
            .heard
            .iter()
            .filter(|l| wanted.contains_key(*l))
            .cloned()
            .collect();
        for list in &taken {
            slot.heard.remove(list);
        }
        taken
    }

    /// Gives back marks taken but not looked at.
    pub(crate) fn put_back(&self, lists: impl Iterator<Item = String>) {
        let mut state = self.hub.shared.lock();
        if let Some(slot) = state.listeners.get_mut(&self.id) {
            slot.heard
                .extend(lists.filter(|l| slot.tracked.contains(l)));
        }
    }

    /// Resolves once a list of this waiter was marked since the last time
    /// it resolved (a mark made while nobody awaited is kept as a permit).
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Arc<WakeHub> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let task = rt.spawn(std::future::pending::<()>());
        Arc::new(WakeHub {
            shared: Arc::new(Shared::default()),
            task,
        })
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("ns:{{q{i}}}:wake")).collect()
    }

    fn wanted(lists: &[String]) -> HashMap<String, ()> {
        lists.iter().map(|l| (l.clone(), ())).collect()
    }

    #[test]
    fn notices_mark_only_the_listeners_of_their_list() {
        let hub = hub();
        let (a, b) = (hub.listen(), hub.listen());
        let lists = names(3);
        a.track(lists[..2].iter());
        b.track(lists[1..].iter());
        assert!(
            a.take_heard(&wanted(&lists)).is_empty(),
            "not subscribed yet"
        );
        hub.shared.heard(&lists[0]);
        hub.shared.heard("ns:{other}:wake");
        assert_eq!(a.take_heard(&wanted(&lists)), vec![lists[0].clone()]);
        assert!(b.take_heard(&wanted(&lists)).is_empty());
        hub.shared.heard(&lists[1]);
        // A mark outside the wait's lists stays for a later wait.
        assert!(a.take_heard(&wanted(&lists[..1])).is_empty());
        assert_eq!(a.take_heard(&wanted(&lists)), vec![lists[1].clone()]);
        assert_eq!(b.take_heard(&wanted(&lists)), vec![lists[1].clone()]);
        drop(b);
        assert_eq!(
            hub.shared.lock().listeners.len(),
            1,
            "a dropped waiter leaves"
        );
    }

    #[test]
    fn a_subscription_marks_everything_then_new_lists_are_marked_on_listen() {
        let hub = hub();
        let a = hub.listen();
        let lists = names(4);
        a.track(lists[..2].iter());
        hub.shared.gap();
        let mut heard = a.take_heard(&wanted(&lists));
        heard.sort();
        assert_eq!(heard, lists[..2].to_vec());
        a.track(lists.iter());
        let mut heard = a.take_heard(&wanted(&lists));
        heard.sort();
        assert_eq!(heard, lists[2..].to_vec(), "only the lists new to it");
        a.put_back(lists.iter().cloned());
        assert_eq!(a.take_heard(&wanted(&lists)).len(), 4);
    }

    #[test]
    fn a_waiter_listens_for_at_most_max_tracked_lists() {
        let hub = hub();
        let a = hub.listen();
        hub.shared.gap();
        let first = names(MAX_TRACKED);
        a.track(first.iter());
        let more: Vec<String> = (0..10).map(|i| format!("ns:{{x{i}}}:wake")).collect();
        a.track(more.iter());
        let state = hub.shared.lock();
        let slot = &state.listeners[&a.id];
        assert_eq!(slot.tracked.len(), 10, "started again from the new wait");
        assert!(slot.heard.iter().all(|l| slot.tracked.contains(l)));
        drop(state);
        let huge = names(MAX_TRACKED + 5);
        a.track(huge.iter());
        let state = hub.shared.lock();
        let slot = &state.listeners[&a.id];
        assert_eq!(slot.tracked.len(), MAX_TRACKED);
        assert!(slot.heard.len() <= MAX_TRACKED);
    }
}
