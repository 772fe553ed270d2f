//! A running task's progress, kept while it runs.
//!
//! A plugin reports progress (`wasmq:plugin/progress`) as it goes; the
//! settle scripts keep the attempt's last report in the task's run history
//! (`broker/runs.rs`). Without more, an operator would see the progress of
//! a task only once it no longer matters, when the attempt is over. So the
//! worker also sends the latest report while the run goes on, at most once
//! a second (`worker/progress.rs`), and `progress.lua` writes it into the
//! same `p` field, fenced by the lease token: a run that lost its lease
//! writes nothing, and the settle's own write comes last.

use super::client::Client;
use super::consumer::LeaseKey;
use super::error::BrokerResult;
use super::reply::Reply;
use super::runs::progress_value;
use super::scripts::SCRIPTS;

impl Client {
    /// Keeps `percent` and `note` as the running task's progress; false
    /// when the lease is no longer this run's (nothing is written).
    pub async fn report_progress(
        &self,
        task: &LeaseKey,
        percent: u8,
        note: &str,
    ) -> BrokerResult<bool> {
        let keys = self.keys(task.id.queue())?;
        let op = format!("keep the progress of task {}", task.id);
        let keep = self.inner.opts.result_ttl.as_millis().max(1);
        let mut inv = SCRIPTS.progress.prepare_invoke();
        inv.key(&keys.lease).key(keys.run(task.id.local()));
        inv.arg(task.id.local())
            .arg(&*task.token)
            .arg(progress_value(percent, note))
            .arg(u64::try_from(keep).unwrap_or(u64::MAX));
        let written = Reply::of(&op).uint(&self.invoke(&inv, &op).await?)?;
        Ok(written == 1)
    }
}
