//! `future-major`: a handler for a future major version of the contract.
//!
//! `wit/wasmq.wit` here is a copy of the real contract with the package
//! version set to `wasmq:plugin@2.0.0` and nothing else changed. The component
//! therefore exports `wasmq:plugin/handler@2.0.0`, which a host that knows
//! only 0.1 must refuse at load time as an unknown major version, rather than
//! call and misinterpret. It uses `wit-bindgen` directly because the SDK is
//! bound to the current version.

wit_bindgen::generate!({
    world: "task-handler",
    path: "wit",
});

use exports::wasmq::plugin::handler::Guest;
use wasmq::plugin::types::{Output, Task, TaskError};

struct Component;

impl Guest for Component {
    fn handle(task: Task) -> Result<Output, TaskError> {
        Ok(Output {
            data: task.payload,
            content_type: Some("application/x-wasmq-v2".into()),
        })
    }
}

export!(Component);
