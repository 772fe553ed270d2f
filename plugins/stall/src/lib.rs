//! `stall`: a component that never returns, in the way its payload names:
//! `"sleep"` (blocked in a WASI sleep), `"stdin"` (reading stdin forever),
//! `"clock"` (spinning on clock calls) or `"loop"` (pure wasm).
//!
//! The host must stop each at the task's deadline or on cancellation. The
//! epoch callback reaches the last two; the first two spend their time in
//! host calls, where only the host's timer (dropping the run) can.

use stall_modes as modes;

use wasmq_plugin_sdk::{Output, Task, TaskError};

#[wasmq_plugin_sdk::handler]
fn handle(task: Task) -> Result<Output, TaskError> {
    let mode = modes::Mode::parse(&task.payload).map_err(TaskError::permanent)?;
    mode.stall();
    Ok(Output::text("the host let a stalled guest finish"))
}

#[cfg(test)]
mod tests {
    use stall_modes::Mode;

    #[test]
    fn modes_are_named_by_the_payload() {
        assert_eq!(Mode::parse(b"\"sleep\"\n"), Ok(Mode::Sleep));
        assert_eq!(Mode::parse(b"loop"), Ok(Mode::Spin));
        assert!(Mode::parse(b"nap").unwrap_err().contains("\"nap\""));
    }
}
