//! Running WASI command plugins (core modules built for wasm32-wasip1).
//!
//! A command is the simplest plugin there is, a `fn main` in any language
//! that targets WASI: the payload arrives on stdin, the output is whatever
//! it writes to stdout, and the exit code says how it went (0 success, 75
//! `EX_TEMPFAIL` retryable, anything else permanent, with stderr as the
//! message). Its stdout is capped at the output limit while it runs.

use super::capture::Capture;
use super::error::LoadProblem;
use super::invocation::{CancelToken, Invocation};
use super::outcome::OutcomeKind;
use super::run::{Finished, RunPlan};
use super::sandbox::{HasSandbox, LOG_KEEP, Sandbox, arm, deny_all_wasi};
use super::trap::trapped;
use std::time::Instant;
use wasmtime::{Engine, InstancePre, Linker, Module, Store};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

/// Exit code a command uses to ask for a retry (`EX_TEMPFAIL` in sysexits.h).
pub const EXIT_RETRYABLE: i32 = 75;

/// What a command run's store holds.
pub(crate) struct CommandState {
    sandbox: Sandbox,
    wasi: WasiP1Ctx,
}

impl HasSandbox for CommandState {
    fn sandbox(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }
}

/// A command compiled, checked and pre-linked against WASI p1.
pub(crate) struct Prepared {
    pre: InstancePre<CommandState>,
}

impl Prepared {
    /// Links the module against WASI p1; fails if it imports anything else.
    pub fn new(engine: &Engine, module: &Module) -> Result<Self, LoadProblem> {
        let mut linker = Linker::<CommandState>::new(engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s| &mut s.wasi).map_err(|e| {
            LoadProblem::Corrupt {
                kind: "module",
                message: format!("the host linker could not be built: {e:#}"),
            }
        })?;
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| LoadProblem::UnsatisfiedImports {
                what: "a function".to_owned(),
                message: format!("{e:#}; a command may import only wasi_snapshot_preview1"),
            })?;
        Ok(Prepared { pre })
    }

    /// Runs one task: payload on stdin, output from stdout. Async: a WASI
    /// call that waits (a sleep, a poll) suspends the run instead of
    /// blocking its thread, and dropping the future ends the run.
    pub async fn run(
        &self,
        plan: &RunPlan,
        invocation: Invocation,
        cancel: &CancelToken,
    ) -> Finished {
        let stdout = Capture::output(plan.limits.max_output);
        let stderr = Capture::log(LOG_KEEP);
        let mut wasi = deny_all_wasi(&invocation.task_type, &stdout, &stderr);
        wasi.stdin(MemoryInputPipe::new(invocation.payload));
        let state = CommandState {
            sandbox: Sandbox::new(&plan.limits, plan.log.clone()),
            wasi: wasi.build_p1(),
        };
        let mut store = Store::new(self.pre.module().engine(), state);
        let started = Instant::now();
        let result = async {
            arm(&mut store, &plan.limits, plan.deadline, cancel)?;
            let instance = self.pre.instantiate_async(&mut store).await?;
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call_async(&mut store, ()).await
        }
        .await;
        let elapsed = started.elapsed();
        let stderr = stderr.take().text();
        let exit = match &result {
            Ok(()) => Ok(0),
            Err(error) => error
                .downcast_ref::<I32Exit>()
                .map(|exit| exit.0)
                .ok_or(error),
        };
        let kind = match (stdout.overflowed(), exit) {
            (Some((size, limit)), _) => OutcomeKind::OutputTooLarge { size, limit },
            (None, Ok(0)) => OutcomeKind::Success {
                output: stdout.take().bytes,
                content_type: None,
            },
            (None, Ok(EXIT_RETRYABLE)) => OutcomeKind::Retryable {
                message: exit_message(EXIT_RETRYABLE, &stderr),
                retry_after: None,
            },
            (None, Ok(code)) => OutcomeKind::Permanent {
                message: exit_message(code, &stderr),
            },
            (None, Err(error)) => {
                trapped(error, &stderr, &store.data().sandbox, &plan.limits, elapsed)
            }
        };
        let fuel_used = super::sandbox::fuel_used(&store, plan.limits.fuel);
        Finished {
            children: Vec::new(),
            kind,
            fuel_used,
            elapsed,
            sandbox: store.into_data().sandbox,
            stdout: String::new(),
            stderr,
        }
    }
}

/// The failure message of a command: the last non-empty stderr line, or the
/// exit code if it printed nothing.
fn exit_message(code: i32, stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| format!("{line} (exit code {code})"))
        .unwrap_or_else(|| format!("exited with code {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_message_uses_the_last_stderr_line() {
        assert_eq!(
            exit_message(3, "warming up\nbad input: x\n\n"),
            "bad input: x (exit code 3)"
        );
        assert_eq!(exit_message(75, ""), "exited with code 75");
    }
}
