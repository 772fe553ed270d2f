//! Debouncing of file events, per task type.
//!
//! One `cp` or `mv` produces several file-system events (create, a few
//! writes, close), and an editor's save produces a burst of them. Reloading
//! on each would compile half-written files and report spurious errors, so
//! the watcher waits until a task type has been quiet for a while and then
//! reloads it once. A type whose reload is still running is not started
//! again; its new events wait, and run once that reload is done, so loads of
//! one type never race each other and the last change always wins.
//!
//! This is pure bookkeeping over `Instant`s, kept apart from the watcher so
//! it can be property-tested without a file system or a clock.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Pending and running reloads, keyed by task type.
#[derive(Debug)]
pub(crate) struct Debouncer<K> {
    quiet: Duration,
    /// When each pending key becomes due (its last event plus `quiet`).
    pending: HashMap<K, Instant>,
    /// Keys whose reload is running.
    busy: HashSet<K>,
}

impl<K: Hash + Eq + Clone> Debouncer<K> {
    /// A debouncer that waits `quiet` after the last event of a key.
    pub(crate) fn new(quiet: Duration) -> Self {
        Debouncer {
            quiet,
            pending: HashMap::new(),
            busy: HashSet::new(),
        }
    }

    /// Records an event for `key` at `now`, pushing its deadline back.
    pub(crate) fn note(&mut self, key: K, now: Instant) {
        self.pending.insert(key, now + self.quiet);
    }

    /// The earliest deadline of a pending key that is not busy.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter(|(key, _)| !self.busy.contains(*key))
            .map(|(_, deadline)| *deadline)
            .min()
    }

    /// Takes every pending key that is due at `now` and not busy, and marks
    /// it busy: the caller must call [`Debouncer::finish`] when its reload
    /// is done.
    pub(crate) fn start_due(&mut self, now: Instant) -> Vec<K> {
        let due: Vec<K> = self
            .pending
            .iter()
            .filter(|(key, deadline)| **deadline <= now && !self.busy.contains(*key))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &due {
            self.pending.remove(key);
            self.busy.insert(key.clone());
        }
        due
    }

    /// Marks the reload of `key` as done; events that arrived meanwhile are
    /// still pending and become due as usual.
    pub(crate) fn finish(&mut self, key: &K) {
        self.busy.remove(key);
    }

    /// Whether a reload of `key` is running.
    #[cfg(test)]
    pub(crate) fn is_busy(&self, key: &K) -> bool {
        self.busy.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QUIET: Duration = Duration::from_millis(250);

    #[test]
    fn a_burst_becomes_one_start_after_the_quiet_period() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(QUIET);
        for ms in [0, 50, 100, 200] {
            d.note("echo", t0 + Duration::from_millis(ms));
        }
        assert_eq!(d.next_deadline(), Some(t0 + Duration::from_millis(450)));
        assert!(d.start_due(t0 + Duration::from_millis(449)).is_empty());
        assert_eq!(d.start_due(t0 + Duration::from_millis(450)), vec!["echo"]);
        assert_eq!(d.next_deadline(), None);
        assert!(d.start_due(t0 + Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn events_during_a_reload_run_once_it_is_done() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(QUIET);
        d.note("echo", t0);
        assert_eq!(d.start_due(t0 + QUIET), vec!["echo"]);
        d.note("echo", t0 + QUIET);
        let later = t0 + QUIET * 4;
        assert_eq!(d.next_deadline(), None, "a busy key has no deadline");
        assert!(d.start_due(later).is_empty());
        d.finish(&"echo");
        assert_eq!(d.next_deadline(), Some(t0 + QUIET * 2));
        assert_eq!(d.start_due(later), vec!["echo"]);
    }

    proptest! {
        /// Random events, clock ticks and completions: a started key is
        /// never busy already, was quiet for the whole period, and nothing
        /// noted is ever lost.
        #[test]
        fn never_starts_early_or_twice_and_loses_nothing(
            steps in proptest::collection::vec((0u8..4, 0u8..3, 0u64..400), 1..200)
        ) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut d = Debouncer::new(QUIET);
            let mut last_event: HashMap<u8, Instant> = HashMap::new();
            let mut unserved: HashSet<u8> = HashSet::new();
            for (action, key, advance) in steps {
                now += Duration::from_millis(advance);
                match action {
                    0 | 1 => {
                        d.note(key, now);
                        last_event.insert(key, now);
                        unserved.insert(key);
                    }
                    2 => d.finish(&key),
                    _ => {
                        let busy_before: Vec<u8> = (0..3).filter(|k| d.is_busy(k)).collect();
                        for started in d.start_due(now) {
                            prop_assert!(!busy_before.contains(&started));
                            prop_assert!(now >= last_event[&started] + QUIET);
                            unserved.remove(&started);
                        }
                    }
                }
            }
            // Once every reload finishes and time passes, everything noted runs.
            for key in 0..3 {
                d.finish(&key);
            }
            for started in d.start_due(now + QUIET) {
                unserved.remove(&started);
            }
            prop_assert!(unserved.is_empty(), "lost events for {:?}", unserved);
        }
    }
}
