//! The flow resolver: counts settled dependencies into their waiting
//! parents (see `flows.rs` for why it works across Cluster slots).
//!
//! For each parent in a queue's waiting set it reads the flow hash, looks
//! up every dependency not yet counted (`status.lua`, in the dependency's
//! own slot) and reports the settled ones to `flow_settle.lua` in the
//! parent's slot, which counts each once and releases or buries the
//! parent. Nothing here needs to be exactly-once: a report repeated by a
//! crashed host's successor, or raced by another host, counts nothing
//! twice.

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::flows::FLOW_KEEP;
use super::keys::QueueKeys;
use super::options::{MAX_BATCH, millis};
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::task::TaskId;
use std::collections::HashMap;
use tracing::{instrument, warn};

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
        let parents: Vec<String> = redis::cmd("ZRANGE")
            .arg(&keys.waiting)
            .arg(0)
            .arg(limit.max(1) - 1)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(format!("list waiting flows of queue {queue:?}"), e))?;
        let mut report = FlowReport::default();
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
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys.flow(local))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
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
        let mut settled = Vec::new();
        for (id, state) in self.dependency_states(&outstanding).await? {
            let state: &'static str = match state.as_deref() {
                None => "gone",
                Some("completed") => "completed",
                Some("dead") => "dead",
                Some("cancelled") => "cancelled",
                Some(_) => continue,
            };
            settled.push((id.to_string(), state));
        }
        let mut report = FlowReport::default();
        // Counting and releasing are one script, so a parent with nothing
        // newly settled has nothing to do.
        for chunk in settled.chunks(MAX_BATCH) {
            let mut inv = SCRIPTS.flow_settle.prepare_invoke();
            inv.key(&keys.waiting)
                .key(keys.flow(local))
                .key(&keys.tasks)
                .key(&keys.pending[..])
                .key(&keys.wake)
                .key(&keys.dead)
                .key(&keys.meta)
                .key(&keys.stats)
                .arg(local)
                .arg(millis(FLOW_KEEP))
                .arg(chunk.len());
            for (dep, state) in chunk {
                inv.arg(dep).arg(*state);
            }
            let r = Reply::of(&op);
            let mut items = r.array(self.invoke(&inv, &op).await?)?.into_iter();
            let (outcome, counted) = match (items.next(), items.next()) {
                (Some(o), Some(c)) => (r.text(o)?, r.uint(&c)?),
                _ => return Err(BrokerError::reply(&op, "short reply")),
            };
            report.counted += counted;
            match outcome.as_str() {
                "waiting" => {}
                "released" => {
                    report.released += 1;
                    break;
                }
                "dead" => {
                    report.failed += 1;
                    break;
                }
                "settled" => break,
                other => return Err(BrokerError::reply(&op, format!("outcome {other:?}"))),
            }
        }
        Ok(report)
    }
}
