//! What a flow parent's dependencies produced: captured when the resolver
//! counts them in, read back by the parent's run.
//!
//! A dependency's own result expires with the result TTL and sits in its
//! own Cluster slot, so the parent cannot read it at run time. Instead the
//! resolver fetches each settled dependency's output (completed) or last
//! error (dead) as it counts it in, and `flow_settle.lua` keeps them in the
//! parent's slot, in the flow results hash (`fr:<id>`), up to
//! [`MAX_FLOW_RESULT_BYTES`] of output per flow. The worker reads that hash
//! once per run of the parent ([`Client::flow_results`]).

use super::client::Client;
use super::error::{BrokerError, BrokerResult};
use super::flows::FLOW_KEEP;
use super::options::millis;
use crate::crypto::Field;
use crate::task::{ChildResult, ChildState, MAX_FLOW_RESULT_BYTES, TaskId, TaskState};
use std::collections::HashMap;
use tracing::instrument;

/// A settled dependency, as the resolver hands it to `flow_settle.lua`.
#[derive(Debug, Clone)]
pub(crate) struct Settled {
    pub id: TaskId,
    pub state: ChildState,
    pub output: Vec<u8>,
    pub content_type: String,
    pub error: String,
}

impl Settled {
    /// Bytes it adds to a script call.
    pub fn size(&self) -> usize {
        self.id.local().len() + 64 + self.output.len() + self.content_type.len() + self.error.len()
    }
}

impl Client {
    /// The settled ones among `ids`, with what they produced: the output
    /// of a completed one while `budget` (output bytes the flow may still
    /// keep) lasts, the last error of a dead one. Looked up concurrently,
    /// in order; ids still live are left out.
    pub(crate) async fn settled_outcomes(
        &self,
        ids: &[TaskId],
        mut budget: usize,
    ) -> BrokerResult<Vec<Settled>> {
        let looks = self.dependency_statuses(ids).await?;
        let mut settled = Vec::new();
        for (id, status) in looks {
            let (state, error) = match status {
                None => (ChildState::Gone, None),
                Some(s) => match s.state {
                    TaskState::Completed => (ChildState::Completed, None),
                    TaskState::Dead => (ChildState::Dead, s.last_error),
                    TaskState::Cancelled => (ChildState::Cancelled, None),
                    _ => continue,
                },
            };
            let mut one = Settled {
                id,
                state,
                output: Vec::new(),
                content_type: String::new(),
                error: error.unwrap_or_default(),
            };
            // Past the budget the output is not even fetched: the script
            // would leave it out anyway.
            if state == ChildState::Completed {
                if budget == 0 {
                    one.error = format!(
                        "its output was left out: the outputs of this flow passed \
                         {MAX_FLOW_RESULT_BYTES} bytes; read it with `wasmq result {}`",
                        one.id
                    );
                } else if let Some(result) = self.result(&one.id).await? {
                    budget = budget.saturating_sub(result.output.len());
                    // Kept sealed in the flow's slot as in the result bucket.
                    let queue = one.id.queue().to_owned();
                    one.output = self.seal(Field::Output, &queue, &result.output);
                    one.content_type = result.content_type.unwrap_or_default();
                }
            }
            if !one.error.is_empty() {
                one.error = self.seal_error(one.id.queue(), &one.error);
            }
            settled.push(one);
        }
        Ok(settled)
    }

    /// The outcome of each dependency of the flow parent `id`, in the order
    /// they were listed, for its run; `None` if `id` is no flow parent or
    /// its flow record expired ([`FLOW_KEEP`] after its release). Keeps
    /// the record for another [`FLOW_KEEP`], for a parent that retries.
    #[instrument(skip_all, fields(task_id = %id, task_type = id.queue()))]
    pub async fn flow_results(&self, id: &TaskId) -> BrokerResult<Option<Vec<ChildResult>>> {
        let keys = self.keys(id.queue())?;
        let (flow, results) = (keys.flow(id.local()), keys.flow_results(id.local()));
        let op = format!("read the dependencies' results of flow {id}");
        let keep = millis(FLOW_KEEP);
        let (deps, mut fields): (Option<String>, HashMap<String, Vec<u8>>) = redis::pipe()
            .hget(&flow, "deps")
            .hgetall(&results)
            .pexpire(&flow, keep as i64)
            .ignore()
            .pexpire(&results, keep as i64)
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.fail(&op, e))?;
        let Some(deps) = deps else {
            return Ok(None);
        };
        let states: Vec<Option<String>> = if deps.is_empty() {
            Vec::new()
        } else {
            let mut cmd = redis::cmd("HMGET");
            cmd.arg(&flow);
            for dep in deps.split(' ') {
                cmd.arg(format!("s:{dep}"));
            }
            cmd.query_async(&mut self.conn())
                .await
                .map_err(|e| self.fail(&op, e))?
        };
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        let mut children = Vec::new();
        for (dep, state) in deps.split(' ').zip(states) {
            let dep_id: TaskId = dep
                .parse()
                .map_err(|_| BrokerError::reply(&op, format!("malformed dependency {dep:?}")))?;
            // Not counted in: a parent buried for a failed dependency and
            // then requeued by an operator runs before the others settled.
            let Some(state) = state.as_deref().and_then(ChildState::parse) else {
                continue;
            };
            let queue = dep_id.queue().to_owned();
            children.push(ChildResult {
                id: dep_id,
                state,
                output: fields
                    .remove(&format!("o:{dep}"))
                    .map(|o| self.open_output(&queue, o).0),
                content_type: fields.remove(&format!("t:{dep}")).map(text),
                error: self.open_error(&queue, fields.remove(&format!("e:{dep}")).map(text)),
            });
        }
        Ok(Some(children))
    }
}
