//! What the leaser knows about idle queues: which it found empty (quiet),
//! and the wait for their wake tokens.
//!
//! A queue whose lease found nothing is not leased again until a wake
//! token for it arrives. So an idle host costs one blocking wait per
//! [`IDLE_WAIT`] (and maintenance's fixed share) whatever the number of
//! queues it serves, instead of one lease call per queue and second. That
//! is sound because every path that makes work leasable leaves a token
//! (`broker/waiter.rs`), and a token taken but never leased for is either
//! given back here ([`Quiet::owed`], `Client::rewake`) or, if its host died
//! holding it, left again by maintenance, which visits every queue when a
//! host is forgotten and on its periodic sweep (`maintain.lua`'s
//! `wake_pending`). A wait that may have missed tokens (on Cluster, while
//! the wake subscription is down; or a wait that failed) says so
//! ([`Woke::Blind`]), and the leaser then looks at every queue, as it did
//! before queues could be quiet.
//!
//! The wait runs in a task of its own and is never abandoned halfway:
//! dropping a `BLPOP` would cost its connection, and dropping a wait between
//! its `LPOP` and its answer would drop a token. The leaser asks for a wait
//! whenever it has room and quiet queues, busy or not (a busy host must
//! still notice work on its quiet queues), and takes the answer when it
//! comes.

use super::Shared;
use super::stats::redis_error;
use crate::broker::{BrokerResult, Waiter};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::warn;

/// Longest blocking wait for a wake token; a queue that goes quiet during
/// a wait is listened for from the next one.
pub const IDLE_WAIT: Duration = Duration::from_secs(1);

/// How one wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Woke {
    /// This host took the token of this queue: it should lease from it.
    Queue(String),
    /// The wait timed out, and no token came for its queues.
    Nothing,
    /// Tokens may have come unheard: look at every queue.
    Blind,
}

/// The wait for work, in a task of its own (see the module docs).
pub struct WakeWaiter {
    requests: mpsc::Sender<Vec<String>>,
    answers: mpsc::Receiver<Woke>,
    outstanding: bool,
    max_queues: usize,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WakeWaiter {
    fn drop(&mut self) {
        // The leaser is done: a wait still blocked in Redis is of no use.
        self.task.abort();
    }
}

impl WakeWaiter {
    pub fn spawn(mut waiter: Waiter, shared: Arc<Shared>) -> WakeWaiter {
        let max_queues = waiter.max_queues();
        let (requests, mut incoming) = mpsc::channel::<Vec<String>>(1);
        let (answer, answers) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            while let Some(queues) = incoming.recv().await {
                let names: Vec<&str> = queues.iter().map(String::as_str).collect();
                let waited: BrokerResult<Option<String>> =
                    waiter.wait_for_work(&names, IDLE_WAIT).await;
                let woke = match waited {
                    Ok(Some(queue)) => Woke::Queue(queue),
                    Ok(None) if waiter.hears_everything() => Woke::Nothing,
                    Ok(None) => Woke::Blind,
                    Err(e) => {
                        redis_error(&shared.stats, "wait for work", &e);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Woke::Blind
                    }
                };
                if answer.send(woke).await.is_err() {
                    break;
                }
            }
        });
        WakeWaiter {
            requests,
            answers,
            outstanding: false,
            max_queues,
            task,
        }
    }

    /// The most queues a wait listens for (see [`Quiet::went_quiet`]).
    pub fn max_queues(&self) -> usize {
        self.max_queues
    }

    /// Starts a wait for `queues` unless one is outstanding (whose answer
    /// is then still to come).
    pub fn request(&mut self, queues: Vec<String>) {
        if self.outstanding || queues.is_empty() {
            return;
        }
        // The channel holds one request and only one is outstanding at a
        // time, so this cannot find it full.
        self.outstanding = self.requests.try_send(queues).is_ok();
    }

    /// The answer of the outstanding wait, if it came.
    pub fn try_answer(&mut self) -> Option<Woke> {
        let woke = self.answers.try_recv().ok()?;
        self.outstanding = false;
        Some(woke)
    }

    /// Waits for the answer of the outstanding wait (forever if there is
    /// none). Cancel-safe: an answer not taken here stays for later.
    pub async fn answer(&mut self) -> Woke {
        if !self.outstanding {
            return std::future::pending().await;
        }
        match self.answers.recv().await {
            Some(woke) => {
                self.outstanding = false;
                woke
            }
            None => std::future::pending().await,
        }
    }

    pub fn outstanding(&self) -> bool {
        self.outstanding
    }
}

/// The served queues a lease found empty, and the tokens taken but not yet
/// leased for.
#[derive(Debug, Default)]
pub struct Quiet {
    queues: HashSet<String>,
    /// Queues whose wake token this host took and has not leased from
    /// since: the token must be given back if it will not.
    owed: HashSet<String>,
}

impl Quiet {
    pub fn is_quiet(&self, queue: &str) -> bool {
        self.queues.contains(queue)
    }

    /// A lease of `queue` found nothing: wait for its token from now on,
    /// unless `max` queues are waited for already (a queue past what one
    /// wait listens for is looked at every round instead).
    pub fn went_quiet(&mut self, queue: &str, max: usize) {
        self.owed.remove(queue);
        if self.queues.len() < max {
            self.queues.insert(queue.to_owned());
        }
    }

    /// A lease of `queue` answered (tasks, or a limit's wait): any token
    /// taken for it was used.
    pub fn leased(&mut self, queue: &str) {
        self.owed.remove(queue);
    }

    /// Takes in how a wait ended.
    pub fn woke(&mut self, woke: Woke) {
        match woke {
            // Owed even if no longer quiet (a blind wait or a plugin change
            // came between): unless a lease answers for it, it goes back.
            Woke::Queue(queue) => {
                self.queues.remove(&queue);
                self.owed.insert(queue);
            }
            Woke::Nothing => {}
            Woke::Blind => {
                metrics::counter!("wasmq_wake_blind_looks_total").increment(1);
                self.queues.clear();
            }
        }
    }

    /// The queues to wait for.
    pub fn waited(&self) -> Vec<String> {
        self.queues.iter().cloned().collect()
    }

    pub fn any(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Forgets queues no longer served; returns the tokens owed for them.
    pub fn retain(&mut self, served: &[String]) -> Vec<String> {
        let served: HashSet<&str> = served.iter().map(String::as_str).collect();
        self.queues.retain(|q| served.contains(q.as_str()));
        let (keep, gone): (HashSet<String>, HashSet<String>) = std::mem::take(&mut self.owed)
            .into_iter()
            .partition(|q| served.contains(q.as_str()));
        self.owed = keep;
        gone.into_iter().collect()
    }

    /// Takes every owed token (to give them back).
    pub fn take_owed(&mut self) -> Vec<String> {
        self.owed.drain().collect()
    }
}

/// Gives back wake tokens this host took but will not lease for, so another
/// host looks now; a failure is logged, and maintenance's sweep leaves the
/// token later (`maintain.lua`).
pub async fn give_back(shared: &Shared, queues: Vec<String>) {
    for queue in queues {
        match shared.broker.rewake(&queue).await {
            Ok(_) => metrics::counter!("wasmq_wake_tokens_returned_total").increment(1),
            Err(e) => {
                redis_error(&shared.stats, "give back a wake token", &e);
                warn!(task_type = %queue, error = %e,
                    "could not give back a wake token; maintenance's sweep will leave one");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_queue_waits_for_its_token_and_owes_it_until_leased() {
        let mut quiet = Quiet::default();
        quiet.went_quiet("a", 10);
        quiet.went_quiet("b", 10);
        assert!(quiet.is_quiet("a") && quiet.is_quiet("b"));
        quiet.woke(Woke::Queue("a".into()));
        assert!(!quiet.is_quiet("a"), "woken: looked at next round");
        assert_eq!(quiet.waited(), vec!["b".to_owned()]);
        assert_eq!(quiet.take_owed(), vec!["a".to_owned()]);
        quiet.woke(Woke::Queue("c".into()));
        assert_eq!(
            quiet.take_owed(),
            vec!["c".to_owned()],
            "a token for a queue not quiet is owed all the same"
        );
    }

    #[test]
    fn a_lease_settles_what_is_owed() {
        let mut quiet = Quiet::default();
        quiet.went_quiet("a", 10);
        quiet.woke(Woke::Queue("a".into()));
        quiet.leased("a");
        assert!(quiet.take_owed().is_empty());
        quiet.went_quiet("a", 10);
        quiet.woke(Woke::Queue("a".into()));
        quiet.went_quiet("a", 10);
        assert!(quiet.take_owed().is_empty(), "looked and found empty");
        assert!(quiet.is_quiet("a"));
    }

    #[test]
    fn a_blind_wait_makes_every_queue_looked_at() {
        let mut quiet = Quiet::default();
        quiet.went_quiet("a", 10);
        quiet.went_quiet("b", 10);
        quiet.woke(Woke::Nothing);
        assert!(quiet.any());
        quiet.woke(Woke::Blind);
        assert!(!quiet.any());
    }

    #[test]
    fn no_more_queues_are_quiet_than_one_wait_hears() {
        let mut quiet = Quiet::default();
        for q in ["a", "b", "c"] {
            quiet.went_quiet(q, 2);
        }
        assert_eq!(quiet.waited().len(), 2);
        assert!(!quiet.is_quiet("c"), "looked at every round instead");
    }

    #[test]
    fn queues_no_longer_served_are_forgotten_and_their_tokens_returned() {
        let mut quiet = Quiet::default();
        for q in ["a", "b"] {
            quiet.went_quiet(q, 10);
            quiet.woke(Woke::Queue(q.into()));
        }
        quiet.went_quiet("c", 10);
        let gone = quiet.retain(&["a".to_owned()]);
        assert_eq!(gone, vec!["b".to_owned()]);
        assert!(!quiet.is_quiet("c"));
        assert_eq!(quiet.take_owed(), vec!["a".to_owned()]);
    }
}
