//! Plugins built against contract 0.1 (`wit/compat/0.1`), run unchanged.
//!
//! Contract 0.2 added `task.children`. Below 1.0 a minor version is a new,
//! incompatible one in the component model, so a 0.1 plugin imports
//! `wasmq:plugin/log@0.1.0` and exports `handler@0.1.0`, which 0.2
//! bindings cannot link or call. Rather than make every user rebuild every
//! plugin on upgrade, the host links both versions' imports (the same host
//! functions) and calls a 0.1 handler through these bindings, handing it
//! the task without its children.

use super::component::ComponentState;
use super::component::bindings::wasmq::plugin::{log, progress, types};
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/compat/0.1",
        world: "task-handler",
        exports: { default: async },
    });
}

use bindings::wasmq::plugin::{log as log_v01, progress as progress_v01, types as types_v01};

pub(crate) use bindings::TaskHandlerPre;

/// Adds the 0.1 imports (`log`, `progress`) to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<ComponentState>) -> wasmtime::Result<()> {
    bindings::TaskHandler::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

impl types_v01::Host for ComponentState {}

impl log_v01::Host for ComponentState {
    fn log(&mut self, level: log_v01::Level, message: String) {
        let level = match level {
            log_v01::Level::Trace => log::Level::Trace,
            log_v01::Level::Debug => log::Level::Debug,
            log_v01::Level::Info => log::Level::Info,
            log_v01::Level::Warn => log::Level::Warn,
            log_v01::Level::Error => log::Level::Error,
        };
        <ComponentState as log::Host>::log(self, level, message);
    }
}

impl progress_v01::Host for ComponentState {
    fn report(&mut self, percent: u8, note: String) {
        <ComponentState as progress::Host>::report(self, percent, note);
    }
}

/// Instantiates a 0.1 plugin and calls its handler with `task` (less its
/// children), answering in the current contract's types.
pub(crate) async fn call(
    pre: &TaskHandlerPre<ComponentState>,
    store: &mut Store<ComponentState>,
    task: &types::Task,
) -> wasmtime::Result<Result<types::Output, types::TaskError>> {
    let task = types_v01::Task {
        id: task.id.clone(),
        task_type: task.task_type.clone(),
        payload: task.payload.clone(),
        attempt: task.attempt,
        max_attempts: task.max_attempts,
        enqueued_at_ms: task.enqueued_at_ms,
        deadline_ms: task.deadline_ms,
    };
    let handler = pre.instantiate_async(&mut *store).await?;
    let result = handler
        .wasmq_plugin_handler()
        .call_handle(&mut *store, &task)
        .await?;
    Ok(match result {
        Ok(output) => Ok(types::Output {
            data: output.data,
            content_type: output.content_type,
        }),
        Err(error) => Err(types::TaskError {
            kind: match error.kind {
                types_v01::ErrorKind::Retryable => types::ErrorKind::Retryable,
                types_v01::ErrorKind::Permanent => types::ErrorKind::Permanent,
            },
            message: error.message,
            retry_after_ms: error.retry_after_ms,
        }),
    })
}
