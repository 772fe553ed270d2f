//! Who runs next: concurrency limits, per-type caps, fairness and prefetch.
//!
//! The host runs at most `concurrency` tasks at once, and at most a type's
//! `max_concurrency` of one type. Executors take work from per-queue buffers
//! in round-robin order, so one busy queue cannot starve another.
//!
//! Leasing one task per free slot would cost a Redis round trip per task
//! when tasks are short. So the leaser keeps a small buffer of leased tasks
//! per queue, sized by what this host expects to *start* within
//! [`PREFETCH_WINDOW`]: from the moving average of that queue's run time,
//! a queue of 50 µs no-ops buffers a full batch while a queue of one-second
//! image jobs buffers nothing beyond its free slots, leaving the rest for
//! other hosts. Buffered tasks hold leases (the lease keeper extends them);
//! at shutdown they are released unrun.
//!
//! [`Queues`] is the pure bookkeeping (property-tested); [`Scheduler`] wraps
//! it with the wake-ups executors and the leaser wait on.
//!
//! An executor waits only when no buffered task may start; every push wakes
//! the waiting executors, and a finished task's executor looks for the next
//! one itself, so a task that becomes startable is never left waiting while
//! an executor sleeps.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// Lease ahead what this host expects to start within this window.
pub const PREFETCH_WINDOW: Duration = Duration::from_millis(20);

/// Weight of the newest run time in a queue's moving average.
const EWMA_WEIGHT: f64 = 0.2;

/// A task taken from a buffer, with its queue.
#[derive(Debug)]
pub struct Job<T> {
    /// The queue (task type).
    pub queue: String,
    /// The leased task.
    pub item: T,
}

#[derive(Debug)]
struct Slot<T> {
    name: String,
    cap: usize,
    running: usize,
    buffered: VecDeque<T>,
    served: bool,
    avg_run_secs: Option<f64>,
}

/// Per-queue buffers and running counts.
#[derive(Debug)]
pub struct Queues<T> {
    slots: Vec<Slot<T>>,
    next: usize,
    lease_cursor: usize,
    concurrency: usize,
    lease_batch: usize,
    closed: bool,
}

impl<T> Queues<T> {
    /// Empty bookkeeping for a host running `concurrency` tasks at once.
    pub fn new(concurrency: usize, lease_batch: usize) -> Self {
        Queues {
            slots: Vec::new(),
            next: 0,
            lease_cursor: 0,
            concurrency: concurrency.max(1),
            lease_batch: lease_batch.max(1),
            closed: false,
        }
    }

    /// Sets the served queues and their caps (`None`: only the global limit).
    /// Returns the buffered tasks of queues no longer served, to release.
    pub fn set_queues(&mut self, served: &[(String, Option<usize>)]) -> Vec<T> {
        let mut orphans = Vec::new();
        for slot in &mut self.slots {
            slot.served = false;
        }
        for (name, cap) in served {
            let cap = cap.unwrap_or(self.concurrency).clamp(1, self.concurrency);
            match self.slots.iter_mut().find(|s| s.name == *name) {
                Some(slot) => {
                    slot.served = true;
                    slot.cap = cap;
                }
                None => self.slots.push(Slot {
                    name: name.clone(),
                    cap,
                    running: 0,
                    buffered: VecDeque::new(),
                    served: true,
                    avg_run_secs: None,
                }),
            }
        }
        for slot in self.slots.iter_mut().filter(|s| !s.served) {
            orphans.extend(slot.buffered.drain(..));
        }
        self.slots.retain(|s| s.served || s.running > 0);
        self.next = self.next.min(self.slots.len());
        orphans
    }

    /// What to lease now: each queue that wants tasks with how many (in an
    /// order that rotates on every call, so no queue always goes first), and
    /// the room left over all queues. The caller leases queue by queue and
    /// stops when the room is used up: a queue that turns out to be empty
    /// costs no room, so it cannot starve the others.
    ///
    /// A queue asks for its free slots plus its prefetch, but only once it
    /// has fallen half a prefetch behind (or has an idle slot), so short
    /// tasks are leased in batches rather than one round trip per task.
    pub fn wants(&mut self) -> (Vec<(String, usize)>, usize) {
        if self.closed || self.slots.is_empty() {
            return (Vec::new(), 0);
        }
        let held: usize = self
            .slots
            .iter()
            .map(|s| s.running + s.buffered.len())
            .sum();
        let extra = self
            .slots
            .iter()
            .filter(|s| s.served)
            .map(|s| self.prefetch(s))
            .max()
            .unwrap_or(0);
        let room = (self.concurrency + extra).saturating_sub(held);
        if room == 0 {
            return (Vec::new(), 0);
        }
        let start = self.lease_cursor % self.slots.len();
        self.lease_cursor = self.lease_cursor.wrapping_add(1);
        let mut out = Vec::new();
        for i in 0..self.slots.len() {
            let slot = &self.slots[(start + i) % self.slots.len()];
            if !slot.served {
                continue;
            }
            let prefetch = self.prefetch(slot);
            let have = slot.running + slot.buffered.len();
            let deficit = (slot.cap + prefetch).saturating_sub(have);
            let idle_slot = slot.running < slot.cap && slot.buffered.is_empty();
            if deficit == 0 || (!idle_slot && deficit < (prefetch / 2).max(1)) {
                continue;
            }
            out.push((slot.name.clone(), deficit.min(self.lease_batch)));
        }
        (out, room)
    }

    /// How many tasks beyond its slots a queue keeps leased.
    fn prefetch(&self, slot: &Slot<T>) -> usize {
        match slot.avg_run_secs {
            Some(secs) if secs > 0.0 => {
                ((PREFETCH_WINDOW.as_secs_f64() / secs) as usize).min(self.lease_batch)
            }
            Some(_) => self.lease_batch,
            None => 0,
        }
    }

    /// Adds leased tasks to a queue's buffer. Returns them back if the host
    /// no longer serves the queue or is closing, so they can be released.
    pub fn push(&mut self, queue: &str, items: Vec<T>) -> Vec<T> {
        match self.slots.iter_mut().find(|s| s.name == queue && s.served) {
            Some(slot) if !self.closed => {
                slot.buffered.extend(items);
                Vec::new()
            }
            _ => items,
        }
    }

    /// Takes the next task that may start, round-robin over the queues.
    pub fn pop(&mut self) -> Option<Job<T>> {
        if self.closed {
            return None;
        }
        let n = self.slots.len();
        for i in 0..n {
            let index = (self.next + i) % n;
            let slot = &mut self.slots[index];
            if slot.running < slot.cap
                && let Some(item) = slot.buffered.pop_front()
            {
                slot.running += 1;
                self.next = (index + 1) % n;
                return Some(Job {
                    queue: slot.name.clone(),
                    item,
                });
            }
        }
        None
    }

    /// Records that a task of `queue` finished after `run_time`.
    pub fn finish(&mut self, queue: &str, run_time: Duration) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.name == queue) {
            slot.running = slot.running.saturating_sub(1);
            let secs = run_time.as_secs_f64();
            slot.avg_run_secs = Some(match slot.avg_run_secs {
                Some(avg) => avg + EWMA_WEIGHT * (secs - avg),
                None => secs,
            });
        }
        self.slots.retain(|s| s.served || s.running > 0);
        self.next = self.next.min(self.slots.len());
    }

    /// Stops handing out work; returns every buffered task, to release.
    pub fn close(&mut self) -> Vec<T> {
        self.closed = true;
        self.slots
            .iter_mut()
            .flat_map(|s| s.buffered.drain(..))
            .collect()
    }

    /// Tasks running now.
    pub fn running(&self) -> usize {
        self.slots.iter().map(|s| s.running).sum()
    }

    /// Tasks leased and waiting for a slot.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.slots.iter().map(|s| s.buffered.len()).sum()
    }
}

/// [`Queues`] shared by the leaser and the executors, with wake-ups.
///
/// Both sides are async and wait on a `Notify`: executors for work, the
/// leaser for room. An executor registers as a waiter before it looks at
/// the buffers, so a push between its look and its wait still wakes it.
#[derive(Debug)]
pub struct Scheduler<T> {
    queues: Mutex<Queues<T>>,
    /// Wakes executors: work was buffered, or the scheduler closed.
    work: Notify,
    /// Executors waiting on `work`.
    waiting: AtomicUsize,
    /// Wakes the leaser: room to lease appeared.
    room: Notify,
}

impl<T> Scheduler<T> {
    /// A scheduler for `concurrency` executors.
    pub fn new(concurrency: usize, lease_batch: usize) -> Self {
        Scheduler {
            queues: Mutex::new(Queues::new(concurrency, lease_batch)),
            work: Notify::new(),
            waiting: AtomicUsize::new(0),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues<T>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the bookkeeping under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut Queues<T>) -> R) -> R {
        f(&mut self.lock())
    }

    /// Buffers leased tasks and wakes one waiting executor per task (not
    /// all of them: a thousand idle executors must not all wake for a batch
    /// of ten); see [`Queues::push`].
    pub fn push(&self, queue: &str, items: Vec<T>) -> Vec<T> {
        let count = items.len();
        let rejected = self.with(|q| q.push(queue, items));
        let wake = (count - rejected.len()).min(self.waiting.load(Ordering::Acquire));
        for _ in 0..wake {
            self.work.notify_one();
        }
        rejected
    }

    /// For an executor: records the task it just finished (if any) and
    /// waits until the next task may start; `None` once closed. One lock
    /// round trip per task on the busy path.
    pub async fn next_job(&self, finished: Option<(&str, Duration)>) -> Option<Job<T>> {
        let mut finished = finished;
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            // Counted and registered before looking, so a push in between
            // sees this executor and wakes it.
            self.waiting.fetch_add(1, Ordering::AcqRel);
            notified.as_mut().enable();
            // The finished task is recorded under the same lock as the pop.
            let freed = finished.is_some();
            let found = self.with(|q| {
                if let Some((queue, run_time)) = finished.take() {
                    q.finish(queue, run_time);
                }
                if q.closed { Err(()) } else { Ok(q.pop()) }
            });
            if freed {
                self.room.notify_one();
            }
            if !matches!(found, Ok(None)) {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                return found.ok().flatten();
            }
            notified.await;
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Closes the scheduler (executors drain out); returns the buffered tasks.
    pub fn close(&self) -> Vec<T> {
        let buffered = self.with(Queues::close);
        self.work.notify_waiters();
        self.room.notify_one();
        buffered
    }

    /// Resolves when a finished task may have made room to lease.
    pub async fn room(&self) {
        self.room.notified().await;
    }
}

#[cfg(test)]
mod tests;
