//! The task browser's actions: retry, delete, cancel and promote-now, on a
//! selection of one queue's tasks in one state or on all of that state.
//!
//! Each write is one atomic script: `promote_now.lua` and
//! `delete_tasks.lua` for what the other paths had no script for, and the
//! existing ones otherwise (`requeue_dead.lua` and `purge_dead.lua` for dead
//! tasks, `cancel.lua` for cancels), so the browser changes tasks exactly as
//! the dead-letter commands and `wasmq cancel` do. "All in this state" runs
//! in calls of at most [`BULK_LIMIT`] tasks until the state is empty, so
//! Redis never blocks for long. A task that left the state between the page
//! and the action is skipped and counted as such.

use super::admin::CancelOutcome;
use super::browse::MAX_PAGE;
use super::client::Client;
use super::dead::{BULK_LIMIT, DeadSelector};
use super::error::BrokerResult;
use super::invoke::count;
use super::reply::Reply;
use super::scripts::SCRIPTS;
use crate::error::ValidationError;
use crate::task::{TaskId, TaskState};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Most tasks one selection names.
pub const MAX_SELECTION: usize = BULK_LIMIT;
/// Script calls one "all in this state" action makes at most (a million
/// tasks); run it again for more.
const MAX_ROUNDS: usize = 1000;

/// What to do with the selected tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskAction {
    /// Run again: a dead task is re-driven; a retry-waiting or scheduled
    /// one is made pending now.
    Retry,
    /// Delete for good, with no final record.
    Delete,
    /// Cancel: at once if waiting, by asking its host if it runs.
    Cancel,
    /// Make a scheduled or retry-waiting task pending now.
    Promote,
}

impl TaskAction {
    /// The action's API name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskAction::Retry => "retry",
            TaskAction::Delete => "delete",
            TaskAction::Cancel => "cancel",
            TaskAction::Promote => "promote",
        }
    }

    /// The states the action applies to.
    pub fn states(self) -> &'static [TaskState] {
        use TaskState::*;
        match self {
            TaskAction::Retry => &[Dead, RetryWait, Scheduled],
            TaskAction::Delete => &[Pending, Scheduled, RetryWait, Dead],
            TaskAction::Cancel => &[Pending, Scheduled, RetryWait, Active],
            TaskAction::Promote => &[Scheduled, RetryWait],
        }
    }
}

impl fmt::Display for TaskAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskAction {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "retry" => Ok(TaskAction::Retry),
            "delete" => Ok(TaskAction::Delete),
            "cancel" => Ok(TaskAction::Cancel),
            "promote" | "promote-now" => Ok(TaskAction::Promote),
            other => Err(ValidationError::OutOfRange {
                what: "action".into(),
                reason: format!("{other:?} is not an action; use retry, delete, cancel or promote"),
            }),
        }
    }
}

/// Which tasks of the state an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These tasks (at most [`MAX_SELECTION`], all of the queue).
    Ids(Vec<TaskId>),
    /// Every task in the state.
    All,
}

/// What an action did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ActionReport {
    /// Tasks it applied to.
    pub done: u64,
    /// Selected tasks no longer in the state (or, for a dead task with no
    /// usable body, dropped instead of re-driven).
    pub skipped: u64,
}

impl Client {
    /// Applies `action` to the `selection` of `queue`'s tasks in `state`.
    pub async fn act_on_tasks(
        &self,
        queue: &str,
        state: TaskState,
        action: TaskAction,
        selection: Selection,
    ) -> BrokerResult<ActionReport> {
        check(queue, state, action, &selection)?;
        let keys = self.keys(queue)?;
        use TaskAction::*;
        match (action, state, selection) {
            (Retry | Delete, TaskState::Dead, Selection::All) => self.dead_all(action, queue).await,
            (Retry | Delete, TaskState::Dead, Selection::Ids(ids)) => {
                let mut report = ActionReport::default();
                for id in ids {
                    let one = DeadSelector::One(id);
                    let n = match action {
                        Retry => self.requeue_dead(one).await?.requeued,
                        _ => self.purge_dead(one).await?,
                    };
                    report.done += n;
                    report.skipped += 1 - n.min(1);
                }
                Ok(report)
            }
            (Cancel, _, selection) => self.cancel_many(queue, state, selection).await,
            (Retry | Promote, _, selection) => {
                let from = match state {
                    TaskState::Scheduled => &keys.scheduled,
                    _ => &keys.retry,
                };
                self.rounds(&selection, |args| {
                    let mut inv = SCRIPTS.promote_now.prepare_invoke();
                    inv.wake_channel(self.wake_channel())
                        .key(from)
                        .key(&keys.tasks)
                        .key(&keys.pending[..])
                        .key(&keys.wake)
                        .arg(args);
                    inv
                })
                .await
            }
            (Delete, _, selection) => {
                self.rounds(&selection, |args| {
                    let mut inv = SCRIPTS.delete_tasks.prepare_invoke();
                    inv.key(&keys.tasks)
                        .key(&keys.meta)
                        .key(&keys.pending[..])
                        .key(&keys.scheduled)
                        .key(&keys.retry)
                        .key(&keys.stats)
                        .arg(state.as_str())
                        .arg(args);
                    inv
                })
                .await
            }
        }
    }

    /// Runs a `{done, skipped}` script once for a selection of ids, or in
    /// rounds of [`BULK_LIMIT`] until a round does nothing for "all".
    async fn rounds<'k>(
        &self,
        selection: &Selection,
        call: impl Fn(Vec<String>) -> super::scripts::Call<'k>,
    ) -> BrokerResult<ActionReport> {
        let op = "task browser action";
        let r = Reply::of(op);
        let mut report = ActionReport::default();
        let args = match selection {
            Selection::Ids(ids) => std::iter::once("ids".to_owned())
                .chain(ids.iter().map(|id| id.local().to_owned()))
                .collect(),
            Selection::All => vec!["some".to_owned(), BULK_LIMIT.to_string()],
        };
        for _ in 0..MAX_ROUNDS {
            let counts = r.array(self.invoke(&call(args.clone()), op).await?)?;
            let (done, skipped) = (count(&r, &counts, 0)?, count(&r, &counts, 1)?);
            report.done += done;
            report.skipped += skipped;
            if matches!(selection, Selection::Ids(_)) || done == 0 {
                break;
            }
        }
        Ok(report)
    }

    async fn dead_all(&self, action: TaskAction, queue: &str) -> BrokerResult<ActionReport> {
        let which = DeadSelector::Queue(queue.to_owned());
        Ok(match action {
            TaskAction::Retry => {
                let r = self.requeue_dead(which).await?;
                ActionReport {
                    done: r.requeued,
                    skipped: r.dropped,
                }
            }
            _ => ActionReport {
                done: self.purge_dead(which).await?,
                skipped: 0,
            },
        })
    }

    /// Cancels tasks one by one (each is one `cancel.lua` call). For "all",
    /// a waiting state is emptied from its first page until a page cancels
    /// nothing; the active set, whose tasks stay until their hosts stop
    /// them, is walked once page by page.
    async fn cancel_many(
        &self,
        queue: &str,
        state: TaskState,
        selection: Selection,
    ) -> BrokerResult<ActionReport> {
        let mut report = ActionReport::default();
        if let Selection::Ids(ids) = selection {
            self.cancel_each(state, ids, &mut report).await?;
            return Ok(report);
        }
        let mut cursor = None;
        for _ in 0..MAX_ROUNDS {
            let page = self.list_tasks(queue, state, cursor, MAX_PAGE).await?;
            let ids: Vec<TaskId> = page.tasks.into_iter().map(|t| t.id).collect();
            if ids.is_empty() {
                break;
            }
            let n = self.cancel_each(state, ids, &mut report).await?;
            if state == TaskState::Active {
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            } else if n == 0 {
                break;
            }
        }
        Ok(report)
    }

    /// Cancels each task still in `state`; returns how many were cancelled
    /// or flagged. A task that left the state is skipped, as the other
    /// actions' scripts skip it (read just before its cancel: a task that
    /// moves in between is cancelled where it went).
    async fn cancel_each(
        &self,
        state: TaskState,
        ids: Vec<TaskId>,
        report: &mut ActionReport,
    ) -> BrokerResult<u64> {
        let mut n = 0;
        for id in ids {
            let now = self.status(&id).await?.map(|s| s.state);
            if now != Some(state) {
                report.skipped += 1;
                continue;
            }
            match self.cancel(&id).await? {
                CancelOutcome::Cancelled | CancelOutcome::Requested => n += 1,
                _ => report.skipped += 1,
            }
        }
        report.done += n;
        Ok(n)
    }
}

/// Refuses an action the state does not allow, or a selection of another
/// queue's tasks or of too many, before anything reaches Redis.
fn check(
    queue: &str,
    state: TaskState,
    action: TaskAction,
    selection: &Selection,
) -> Result<(), ValidationError> {
    let bad = |reason: String| ValidationError::OutOfRange {
        what: format!("{action} of {state} tasks"),
        reason,
    };
    if !action.states().contains(&state) {
        let states: Vec<&str> = action.states().iter().map(|s| s.as_str()).collect();
        return Err(bad(format!(
            "{action} applies to tasks that are {}",
            states.join(", ")
        )));
    }
    if let Selection::Ids(ids) = selection {
        if ids.is_empty() || ids.len() > MAX_SELECTION {
            return Err(bad(format!(
                "select 1 to {MAX_SELECTION} tasks (got {}), or all of the state",
                ids.len()
            )));
        }
        if let Some(other) = ids.iter().find(|id| id.queue() != queue) {
            return Err(bad(format!(
                "task {other} is not of queue {queue:?}; select tasks of one queue"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_apply_to_their_states_only() {
        let ids = |q: &str| Selection::Ids(vec![format!("{q}:1").parse().unwrap()]);
        assert!(check("q", TaskState::Dead, TaskAction::Retry, &ids("q")).is_ok());
        assert!(
            check(
                "q",
                TaskState::Scheduled,
                TaskAction::Promote,
                &Selection::All
            )
            .is_ok()
        );
        let e = check("q", TaskState::Pending, TaskAction::Promote, &ids("q")).unwrap_err();
        assert!(e.to_string().contains("scheduled, retry-wait"), "{e}");
        let e = check("q", TaskState::Dead, TaskAction::Cancel, &ids("q")).unwrap_err();
        assert!(e.to_string().contains("active"), "{e}");
        let e = check("q", TaskState::Dead, TaskAction::Retry, &ids("other")).unwrap_err();
        assert!(e.to_string().contains("not of queue"), "{e}");
        assert!(
            check(
                "q",
                TaskState::Dead,
                TaskAction::Retry,
                &Selection::Ids(vec![])
            )
            .is_err()
        );
        assert_eq!(
            "promote-now".parse::<TaskAction>().unwrap(),
            TaskAction::Promote
        );
        assert!("nuke".parse::<TaskAction>().is_err());
    }
}
