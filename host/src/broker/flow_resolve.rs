//! The flow resolver: counts settled dependencies into their waiting
//! parents (see `flows.rs` for why it works across Cluster slots).
//!
//! For each parent in a queue's waiting set it reads the flow hash, looks
//! up every dependency not yet counted (`status.lua`, in the dependency's
//! own slot), fetches what the settled ones produced (`flow_results.rs`)
//! and reports them to `flow_settle.lua` in the parent's slot, which
//! counts each once, keeps the outputs and releases or buries the parent.
//! Nothing here needs to be exactly-once: a report repeated by a crashed
//! host's successor, or raced by another host, counts nothing twice.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::flow_results::Settled;
use super::flows::{FLOW_KEEP, text_fields};
use super::keys::QueueKeys;
use super::options::{MAX_BATCH, MAX_CALL_BYTES, millis, split_calls};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::{MAX_FLOW_RESULT_BYTES, TaskId};
use tracing::{instrument, warn};

/// Dependencies looked up (and their outputs held) at a time per parent.
const LOOK_CHUNK: usize = 32;

/// What one resolver pass over a queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowReport {
    /// Parents looked at.
    pub waiting: u64,
    /// Dependencies counted in.
    pub counted: u64,
    /// Parents made pending.
    pub released: u64,
    /// Parents buried because a dependency failed (policy `fail`).
    pub failed: u64,
}

impl Client {
    /// Resolves at most `limit` waiting flow parents of `queue`, oldest
    /// first. A parent that fails is logged and left for the next pass;
    /// the call fails with the last such error once the others are done.
    #[instrument(skip_all, fields(kind = queue))]
    pub async fn resolve_flows(&self, queue: &str, limit: usize) -> BrokerResult<FlowReport> {
        let keys = self.keys(queue)?;
        // Oldest first: the waiting set is scored by enqueue time.
        let parents: Vec<String> = redis::cmd("ZRANGE")
            .arg(&keys.waiting)
            .arg(0)
            .arg(limit.max(1) - 1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("list waiting flows of queue {queue:?}"), e))?;
        let mut report = FlowReport::default();
        // One failing parent must not hold up the others: log it, go on,
        // and fail the pass at the end.
        let mut failure = None;
        for parent in parents {
            report.waiting += 1;
            match self.resolve_flow(&keys, &parent).await {
                Ok(one) => {
                    report.counted += one.counted;
                    report.released += one.released;
                    report.failed += one.failed;
                }
                Err(e) => {
                    warn!(queue, parent, error = %e, "could not resolve a flow; retrying next tick");
                    failure = Some(e);
                }
            }
        }
        metrics::counter!("wasmq_flow_dependencies_counted_total", "queue" => queue.to_owned())
            .increment(report.counted);
        metrics::counter!("wasmq_flows_released_total", "queue" => queue.to_owned())
            .increment(report.released);
        metrics::counter!("wasmq_flows_failed_total", "queue" => queue.to_owned())
            .increment(report.failed);
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Resolves one waiting parent (`local`, of `keys`' queue).
    pub(crate) async fn resolve_flow(
        &self,
        keys: &QueueKeys,
        local: &str,
    ) -> BrokerResult<FlowReport> {
        let op = format!("resolve flow {}:{local}", keys.queue);
        // The flow hash marks the dependencies counted already (`s:<id>`),
        // so a repeated pass looks up only the others.
        let fields = text_fields(
            redis::cmd("HGETALL")
                .arg(keys.flow(local))
                .query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(&op, e))?,
        );
        let mut outstanding = Vec::new();
        for dep in fields
            .get("deps")
            .map(String::as_str)
            .unwrap_or("")
            .split(' ')
        {
            if dep.is_empty() || fields.contains_key(&format!("s:{dep}")) {
                continue;
            }
            let id: TaskId = dep
                .parse()
                .map_err(|_| BrokerError::reply(&op, format!("malformed dependency {dep:?}")))?;
            outstanding.push(id);
        }
        // The output budget left: flow_settle.lua enforces the cap, but
        // fetching outputs it would leave out is wasted work.
        let used: usize = fields
            .get("bytes")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0);
        let mut budget = MAX_FLOW_RESULT_BYTES.saturating_sub(used);
        let mut report = FlowReport::default();
        // A few dependencies at a time: their outputs are held in memory
        // until counted in, so a 10 000-child flow never holds them all.
        for looked in outstanding.chunks(LOOK_CHUNK) {
            let settled = self.settled_outcomes(looked, budget).await?;
            budget = budget.saturating_sub(settled.iter().map(|s| s.output.len()).sum());
            // Report them in calls cut by bytes as well as by count: the
            // outputs ride along.
            for range in split_calls(settled.iter().map(Settled::size), MAX_BATCH, MAX_CALL_BYTES) {
                let chunk = &settled[range];
                let mut inv = SCRIPTS.flow_settle.prepare_invoke();
                inv.wake_channel(self.wake_channel())
                    .key(&keys.waiting)
                    .key(keys.flow(local))
                    .key(keys.flow_results(local))
                    .key(&keys.tasks)
                    .key(&keys.pending[..])
                    .key(&keys.wake)
                    .key(&keys.dead)
                    .key(&keys.meta)
                    .key(&keys.stats)
                    .arg(local)
                    .arg(millis(FLOW_KEEP))
                    .arg(MAX_FLOW_RESULT_BYTES)
                    .arg(chunk.len());
                for one in chunk {
                    inv.arg(one.id.to_string())
                        .arg(one.state.as_str())
                        .arg(&one.output[..])
                        .arg(&one.content_type)
                        .arg(&one.error);
                }
                let r = Reply::of(&op);
                let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
                let (outcome, counted) = match (items.next(), items.next()) {
                    (Some(o), Some(c)) => (r.text(o)?, r.uint(&c)?),
                    _ => return Err(BrokerError::reply(&op, "short reply")),
                };
                report.counted += counted;
                // Counting and releasing are one script: once it released or
                // buried the parent, the rest has nothing to count into.
                match outcome.as_str() {
                    "waiting" => {}
                    "released" => {
                        report.released += 1;
                        return Ok(report);
                    }
                    "dead" => {
                        report.failed += 1;
                        return Ok(report);
                    }
                    "settled" => return Ok(report),
                    other => return Err(BrokerError::reply(&op, format!("outcome {other:?}"))),
                }
            }
        }
        Ok(report)
    }
}
