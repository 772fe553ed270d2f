//! `contract-v01`: a handler built against contract 0.1, before
//! `task.children` existed.
//!
//! It binds the frozen `wit/compat/0.1` with `wit-bindgen` directly (the
//! SDK follows the current contract), so the component exports
//! `wasmq:plugin/handler@0.1.0` and imports `log@0.1.0` and
//! `progress@0.1.0`. A host on 0.2 must still load and run it: it logs a
//! line, reports progress, and echoes its payload typed
//! `application/x-wasmq-v0.1`.

wit_bindgen::generate!({
    world: "task-handler",
    path: "../../wit/compat/0.1",
});

use exports::wasmq::plugin::handler::Guest;
use wasmq::plugin::log::{Level, log};
use wasmq::plugin::progress::report;
use wasmq::plugin::types::{Output, Task, TaskError};

struct Component;

impl Guest for Component {
    fn handle(task: Task) -> Result<Output, TaskError> {
        log(
            Level::Info,
            &format!("contract 0.1 handler ran {}", task.id),
        );
        report(100, "done");
        Ok(Output {
            data: task.payload,
            content_type: Some("application/x-wasmq-v0.1".into()),
        })
    }
}

export!(Component);
