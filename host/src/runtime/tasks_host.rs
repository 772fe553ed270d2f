//! The host side of `wasmq:plugin/tasks`: child tasks enqueued by a run.
//!
//! The runtime knows no Redis, so `enqueue` only checks and collects: the
//! type must be in the plugin's `[capabilities] enqueue`, the run may have
//! at most `enqueue_max_children` children, the payload must fit the
//! host's limit and the options the bounds of any producer
//! ([`ChildSpec::new`]). The children travel in the run's
//! [`Outcome`](super::Outcome); the worker hands them to the broker with
//! the ack, so they are committed only if the run succeeds. Every refusal
//! is an error returned to the guest, naming what to change, never a trap:
//! a plugin may well carry on without its child.

use crate::task::{ChildOptions, ChildSpec, Priority};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::HasData;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "package wasmq:host-tasks;
                 world tasks-import { import wasmq:plugin/tasks@0.2.0; }",
        world: "wasmq:host-tasks/tasks-import",
    });
}

/// The same interface of contract 0.1 (`wit/compat/0.1`), unchanged but a
/// version of its own, for plugins built against it.
mod bindings_v01 {
    wasmtime::component::bindgen!({
        path: "../wit/compat/0.1",
        inline: "package wasmq:host-tasks-v01;
                 world tasks-import { import wasmq:plugin/tasks@0.1.0; }",
        world: "wasmq:host-tasks-v01/tasks-import",
    });
}

use bindings::wasmq::plugin::tasks;
use bindings_v01::wasmq::plugin::tasks as tasks_v01;

/// What a plugin's runs may enqueue, fixed at load.
#[derive(Debug, Clone, Default)]
pub(crate) struct TasksGrant {
    /// The task types granted (`[capabilities] enqueue`).
    pub types: Arc<Vec<String>>,
    /// Children allowed per run (`enqueue_max_children`).
    pub max_children: u32,
}

/// The child tasks of one run.
#[derive(Debug, Default)]
pub(crate) struct TasksCtx {
    pub grant: TasksGrant,
    /// The running task's id, from which the children's ids derive.
    pub parent: String,
    /// Largest child payload, bytes (the host's max payload).
    pub max_payload: usize,
    /// The children so far, in the order enqueued.
    pub children: Vec<ChildSpec>,
}

/// Selects [`TasksCtx`] for `add_to_linker`.
pub(crate) struct HasTasks;

impl HasData for HasTasks {
    type Data<'a> = &'a mut TasksCtx;
}

/// Adds the interface, of both contract versions, to `linker`, viewing a
/// store state through `view`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> &mut TasksCtx,
) -> wasmtime::Result<()> {
    tasks::add_to_linker::<T, HasTasks>(linker, view)?;
    tasks_v01::add_to_linker::<T, HasTasks>(linker, view)
}

impl TasksCtx {
    /// Checks one request and keeps the child; the error is the guest's.
    fn enqueue(
        &mut self,
        task_type: String,
        payload: Vec<u8>,
        options: ChildOptions,
    ) -> Result<String, String> {
        if !self.grant.types.contains(&task_type) {
            return Err(format!(
                "task type `{task_type}` is not granted: add it to `[capabilities] enqueue` in \
                 the plugin's manifest (granted: {:?})",
                self.grant.types
            ));
        }
        if self.children.len() >= self.grant.max_children as usize {
            return Err(format!(
                "this run already enqueued {} children, the plugin's `enqueue_max_children` \
                 (raise it in `[capabilities]`, at most {})",
                self.children.len(),
                crate::task::MAX_CHILDREN
            ));
        }
        let index = self.children.len() as u32;
        let child = ChildSpec::new(
            &self.parent,
            index,
            &task_type,
            payload,
            options,
            self.max_payload,
        )
        .map_err(|e| e.to_string())?;
        let id = child.id.to_string();
        tracing::debug!(child_id = %id, "child task enqueued (committed with the ack)");
        self.children.push(child);
        Ok(id)
    }
}

/// `tasks::Host` for one contract version's bindings.
macro_rules! host_for {
    ($tasks:ident) => {
        impl $tasks::Host for &mut TasksCtx {
            fn enqueue(
                &mut self,
                task_type: String,
                payload: Vec<u8>,
                options: $tasks::EnqueueOptions,
            ) -> Result<String, String> {
                let options = ChildOptions {
                    priority: match options.priority {
                        $tasks::Priority::High => Priority::High,
                        $tasks::Priority::Normal => Priority::Normal,
                        $tasks::Priority::Low => Priority::Low,
                    },
                    delay: Duration::from_millis(options.delay_ms),
                    max_retries: options.max_retries,
                };
                TasksCtx::enqueue(self, task_type, payload, options)
            }
        }
    };
}

host_for!(tasks);
host_for!(tasks_v01);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(max_children: u32) -> TasksCtx {
        TasksCtx {
            grant: TasksGrant {
                types: Arc::new(vec!["echo".to_owned()]),
                max_children,
            },
            parent: "fanout:7".to_owned(),
            max_payload: 16,
            children: Vec::new(),
        }
    }

    fn options() -> ChildOptions {
        ChildOptions::default()
    }

    #[test]
    fn grants_caps_and_bounds_are_errors_for_the_guest() {
        let mut ctx = ctx(2);
        let first = ctx
            .enqueue("echo".into(), b"0".to_vec(), options())
            .unwrap();
        assert_eq!(
            first,
            format!("echo:{}", crate::task::child_local_id("fanout:7", 0))
        );
        let err = ctx.enqueue("email".into(), vec![], options()).unwrap_err();
        assert!(err.contains("`[capabilities] enqueue`"), "{err}");
        let err = ctx
            .enqueue("echo".into(), vec![0; 17], options())
            .unwrap_err();
        assert!(err.contains("16"), "{err}");
        let late = ChildOptions {
            delay: Duration::MAX,
            ..options()
        };
        let err = ctx.enqueue("echo".into(), vec![], late).unwrap_err();
        assert!(err.contains("`delay`"), "{err}");
        ctx.enqueue("echo".into(), vec![], options()).unwrap();
        let err = ctx.enqueue("echo".into(), vec![], options()).unwrap_err();
        assert!(err.contains("enqueue_max_children"), "{err}");
        assert_eq!(ctx.children.len(), 2);
    }
}
