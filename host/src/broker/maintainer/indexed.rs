//! The maintainer driven by the due indexes (`due.rs`): what a host's
//! maintenance loop runs, so that its idle cost does not grow with the
//! number of queues.
//!
//! Each tick claims the due queues of every bucket (one call per bucket, all
//! at once, each bounded by the tick's wait), visits them exactly as the
//! listed mode does, and each visit settles its queue's entry to when the
//! queue next needs one ([`Outlook::next_visit`]). A bucket whose claim fails
//! is logged, counted in `wasmq_maintenance_claim_errors_total{bucket}` and
//! skipped for a backoff; the other buckets go on.
//!
//! The sweeps that catch what a lost mark would strand also run here: every
//! queue is marked due on the first tick (a host start, and an upgrade from
//! a version without indexes) and after a bucket's claims failed and work
//! again (a Redis restart or failover may have lost marks that async
//! replication had not sent), the host list is read every
//! [`HOSTS_CHECK`] (which sweeps when it finds a host that stopped
//! heartbeating, `hosts.rs`), and every [`SWEEP_TURN_CHECK`] the host asks
//! for the deployment's sweep turn.

use super::{Maintainer, backoff_ticks, ticks};
use crate::broker::client::Client;
use crate::broker::due::{DUE_BUCKETS, SWEEP_PERIOD};
use crate::broker::error::BrokerResult;
use crate::broker::maintenance::QueueWork;
use std::time::Duration;
use tracing::{debug, info, warn};

/// How often the host list is read for hosts that died.
pub const HOSTS_CHECK: Duration = Duration::from_secs(5);

/// How often a host asks whether the deployment's sweep is its turn.
pub const SWEEP_TURN_CHECK: Duration = Duration::from_secs(60);

/// How long an idle queue that a trim may shrink waits for its visit.
pub const IDLE_TRIM_PERIOD: Duration = Duration::from_secs(600);

/// The state of the indexed mode.
#[derive(Debug)]
pub(super) struct Indexed {
    /// The tick interval (a queue with waiting parents is visited each).
    interval: Duration,
    /// Prefix of this maintainer's claim tokens.
    id: String,
    /// Whether the start-up sweep is done.
    swept: bool,
    next_hosts_check: u64,
    next_sweep_turn: u64,
    /// Failures in a row, and the first tick to try again, per bucket.
    bucket_failures: [u32; DUE_BUCKETS],
    bucket_next_try: [u64; DUE_BUCKETS],
}

/// How a visit settles its queue's entry: the claim's token.
#[derive(Debug)]
pub(super) struct SettlePlan {
    token: String,
    interval: Duration,
}

impl SettlePlan {
    /// Settles `queue`'s entry to its next visit, then hands `work` back.
    pub(super) async fn settle(
        self,
        client: &Client,
        queue: &str,
        work: QueueWork,
    ) -> BrokerResult<QueueWork> {
        let next = work.outlook.next_visit(self.interval, IDLE_TRIM_PERIOD);
        client.settle_due(queue, &self.token, next).await?;
        Ok(work)
    }
}

impl Maintainer {
    /// This maintainer, choosing its queues from the due indexes; ticks
    /// every `interval`.
    pub fn indexed(mut self, interval: Duration) -> Self {
        self.indexed = Some(Indexed {
            interval,
            id: uuid::Uuid::new_v4().simple().to_string(),
            swept: false,
            next_hosts_check: 0,
            next_sweep_turn: 0,
            bucket_failures: [0; DUE_BUCKETS],
            bucket_next_try: [0; DUE_BUCKETS],
        });
        self
    }

    /// The claim token of this tick.
    fn token(&self) -> Option<String> {
        self.indexed
            .as_ref()
            .map(|i| format!("{}:{}", i.id, self.tick))
    }

    /// How this tick's visits settle, when indexed.
    pub(super) fn settle_plan(&self) -> Option<SettlePlan> {
        let interval = self.indexed.as_ref()?.interval;
        Some(SettlePlan {
            token: self.token()?,
            interval,
        })
    }

    /// The start-up sweep until it succeeds, the dead-host check and the
    /// deployment's sweep turn when they are due. Failures are logged and
    /// tried again later; they never stop the tick.
    pub(super) async fn sweep_if_due(&mut self) {
        let (tick, client) = (self.tick, self.client.clone());
        let (hosts_every, turn_every) = (
            ticks(HOSTS_CHECK, self.interval()),
            ticks(SWEEP_TURN_CHECK, self.interval()),
        );
        let Some(ind) = self.indexed.as_mut() else {
            return;
        };
        let wait = ind.interval;
        if !ind.swept {
            match tokio::time::timeout(wait * 4, client.mark_all_due()).await {
                Ok(Ok(n)) => {
                    ind.swept = true;
                    debug!(queues = n, "marked every queue due (start-up sweep)");
                }
                Ok(Err(e)) => {
                    warn!(error = %e, "start-up sweep of the due indexes failed; retrying")
                }
                Err(_) => warn!("start-up sweep of the due indexes timed out; retrying"),
            }
        }
        if tick >= ind.next_hosts_check {
            ind.next_hosts_check = tick + hosts_every;
            // Forgetting a host that died sweeps (hosts.rs).
            if let Ok(Err(e)) = tokio::time::timeout(wait, client.hosts()).await {
                warn!(error = %e, "could not check for hosts that died");
            }
        }
        if tick >= ind.next_sweep_turn {
            ind.next_sweep_turn = tick + turn_every;
            if let Ok(Ok(true)) = tokio::time::timeout(wait, client.take_sweep_turn()).await {
                match client.mark_all_due().await {
                    Ok(n) => {
                        info!(queues = n, period = ?SWEEP_PERIOD, "swept the due indexes (this host's turn)")
                    }
                    Err(e) => warn!(error = %e, "the periodic sweep of the due indexes failed"),
                }
            }
        }
    }

    /// The due queues of every bucket not backing off, claimed under this
    /// tick's token; each claim waits at most `wait`.
    pub(super) async fn claim(&mut self, wait: Option<Duration>) -> Vec<String> {
        let (tick, limit, cap) = (self.tick, self.limit, self.backoff_cap);
        let token = self.token().unwrap_or_default();
        let Some(ind) = self.indexed.as_mut() else {
            return Vec::new();
        };
        let buckets: Vec<usize> = (0..DUE_BUCKETS)
            .filter(|b| ind.bucket_next_try[*b] <= tick)
            .collect();
        let client = &self.client;
        let calls = buckets.iter().map(|bucket| {
            let call = client.claim_due(*bucket, limit, &token);
            async move {
                match wait {
                    Some(wait) => tokio::time::timeout(wait, call).await.unwrap_or_else(|_| {
                        Err(crate::broker::BrokerError::reply(
                            "claim due queues",
                            format!("no answer within {wait:?}"),
                        ))
                    }),
                    None => call.await,
                }
            }
        });
        let results = futures::future::join_all(calls).await;
        let mut queues = Vec::new();
        let mut junk = Vec::new();
        for (bucket, result) in buckets.into_iter().zip(results) {
            match result {
                Ok(claimed) => {
                    // A bucket that failed and answers again: Redis may have
                    // restarted or failed over and lost recent marks, so
                    // sweep on the next tick.
                    if ind.bucket_failures[bucket] > 0 {
                        info!(
                            bucket,
                            "claiming due queues works again; sweeping the due indexes"
                        );
                        ind.swept = false;
                    }
                    ind.bucket_failures[bucket] = 0;
                    for queue in claimed {
                        match crate::error::validate_queue_name(&queue) {
                            Ok(()) => queues.push(queue),
                            Err(_) => junk.push(queue),
                        }
                    }
                }
                Err(e) => {
                    ind.bucket_failures[bucket] = ind.bucket_failures[bucket].saturating_add(1);
                    let skip = backoff_ticks(ind.bucket_failures[bucket], cap);
                    ind.bucket_next_try[bucket] = tick + 1 + skip;
                    warn!(bucket, error = %e, skip_ticks = skip, "claiming due queues failed; the other buckets go on");
                    metrics::counter!("wasmq_maintenance_claim_errors_total", "bucket" => bucket.to_string())
                        .increment(1);
                }
            }
        }
        // An entry that names no valid queue was written by something else:
        // drop it rather than claim it again and again.
        for name in junk {
            warn!(entry = %name, "dropped a due index entry that names no valid queue");
            if let Err(e) = self.client.settle_due(&name, &token, None).await {
                warn!(error = %e, "could not drop a malformed due index entry");
            }
        }
        queues.sort();
        queues
    }

    /// The tick interval of the indexed mode (1 s when listed).
    fn interval(&self) -> Duration {
        self.indexed
            .as_ref()
            .map_or(Duration::from_secs(1), |i| i.interval)
    }
}
