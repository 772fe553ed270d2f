//! Running component plugins: the `wasmq:plugin/task-handler` world.
//!
//! The linker provides the contract's `log` and `progress` imports, the
//! WASI p2 interfaces a Rust wasip2 component always imports, and the
//! capabilities a manifest may grant: `wasi:http/outgoing-handler`,
//! `wasi:config/store`, `wasi:keyvalue` and `wasmq:plugin/tasks`. WASI
//! itself grants nothing (see [`deny_all_wasi`]); what the capabilities allow is the plugin's [`Grants`], checked per
//! request, and a component importing one it was not granted is refused at
//! load, before it is compiled ([`check_imports`](super::grants::check_imports)). Everything that can be done once per plugin
//! (type checking the imports, resolving the export) is done at load time in
//! an `InstancePre`; a task only instantiates and calls.

use super::capture::Capture;
use super::component_v01;
use super::contract::Contract;
use super::error::LoadProblem;
use super::grants::Grants;
use super::invocation::{CancelToken, Invocation};
use super::kv_host::{KvCtx, KvView};
use super::outbound::OutboundHooks;
use super::outcome::OutcomeKind;
use super::run::{Finished, RunPlan};
use super::sandbox::{HasSandbox, LOG_KEEP, Sandbox, arm, deny_all_wasi};
use super::tasks_host::TasksCtx;
use super::trap::trapped;
use crate::config::PluginManifest;
use crate::task::{ChildResult, ChildState};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "task-handler",
        // The handler runs on a fiber, so a guest waiting in WASI suspends
        // instead of blocking a thread; the contract's own imports (log,
        // progress) never wait and stay synchronous.
        exports: { default: async },
    });
}

use bindings::TaskHandlerPre;
use bindings::wasmq::plugin::{log, progress, types};

/// The pre-linked instance, by the contract version the plugin was built
/// for.
enum Pre {
    V0_2(TaskHandlerPre<ComponentState>),
    V0_1(component_v01::TaskHandlerPre<ComponentState>),
}

/// What a component run's store holds.
pub(crate) struct ComponentState {
    sandbox: Sandbox,
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    config: Arc<WasiConfigVariables>,
    kv: KvCtx,
    tasks: TasksCtx,
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl HasSandbox for ComponentState {
    fn sandbox(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for ComponentState {}

impl log::Host for ComponentState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => "TRACE",
            log::Level::Debug => "DEBUG",
            log::Level::Info => "INFO",
            log::Level::Warn => "WARN",
            log::Level::Error => "ERROR",
        };
        tracing::debug!(plugin_level = level, "{message}");
        self.sandbox.log.push(level, &message);
    }
}

impl progress::Host for ComponentState {
    fn report(&mut self, percent: u8, note: String) {
        let percent = percent.min(100);
        tracing::debug!(percent, note = %note, "progress");
        if let Some(feed) = &self.sandbox.feed {
            feed.send(percent, &note);
        }
        self.sandbox.progress = Some((percent, note));
    }
}

/// A component compiled, checked and pre-linked for fast instantiation,
/// with what its manifest grants it.
pub(crate) struct Prepared {
    pre: Pre,
    grants: Grants,
    task_type: Arc<str>,
}

impl Prepared {
    /// Links the component against the host imports. Fails if it imports
    /// anything the host does not provide, or exports a handler of the
    /// wrong shape.
    pub fn new(
        task_type: &str,
        engine: &Engine,
        component: &Component,
        contract: Contract,
        manifest: Option<&PluginManifest>,
    ) -> Result<Self, LoadProblem> {
        let grants = Grants::resolve(manifest)?;
        let mut linker = Linker::<ComponentState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| {
                wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut ComponentState| {
                    WasiConfig::from(&*s.config)
                })
            })
            .and_then(|()| {
                super::kv_host::add_to_linker(&mut linker, |s: &mut ComponentState| KvView {
                    ctx: &mut s.kv,
                    table: &mut s.table,
                })
            })
            .and_then(|()| {
                super::tasks_host::add_to_linker(&mut linker, |s: &mut ComponentState| &mut s.tasks)
            })
            .and_then(|()| {
                bindings::TaskHandler::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            })
            .and_then(|()| component_v01::add_to_linker(&mut linker))
            .map_err(|e| LoadProblem::Corrupt {
                kind: "component",
                message: format!("the host linker could not be built: {e:#}"),
            })?;
        let instance_pre =
            linker
                .instantiate_pre(component)
                .map_err(|e| LoadProblem::UnsatisfiedImports {
                    what: "an interface".to_owned(),
                    message: format!("{e:#}"),
                })?;
        let bad_export = |e: wasmtime::Error| LoadProblem::BadExport {
            message: format!("{e:#}"),
        };
        let pre = match contract {
            Contract::V0_2 => Pre::V0_2(TaskHandlerPre::new(instance_pre).map_err(bad_export)?),
            Contract::V0_1 => {
                Pre::V0_1(component_v01::TaskHandlerPre::new(instance_pre).map_err(bad_export)?)
            }
        };
        Ok(Prepared {
            pre,
            grants,
            task_type: task_type.into(),
        })
    }

    /// Runs one task in a fresh instance. Async, as for commands: a WASI
    /// wait suspends the run, and dropping the future ends it.
    pub async fn run(
        &self,
        plan: &RunPlan,
        invocation: Invocation,
        cancel: &CancelToken,
    ) -> Finished {
        let stdout = Capture::log(LOG_KEEP);
        let stderr = Capture::log(LOG_KEEP);
        let mut sandbox = Sandbox::new(&plan.limits, plan.log.clone());
        sandbox.feed = invocation.progress.clone();
        let state = ComponentState {
            sandbox,
            wasi: deny_all_wasi(&invocation.task_type, &stdout, &stderr).build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks::new(
                self.grants.http.clone(),
                self.task_type.clone(),
                plan.deadline,
                plan.log.clone(),
            ),
            config: self.grants.config.clone(),
            kv: KvCtx {
                grant: self.grants.kv.clone(),
                task_type: self.task_type.clone(),
                store: plan.kv.clone(),
            },
            tasks: TasksCtx {
                grant: self.grants.tasks.clone(),
                parent: invocation.id.clone(),
                max_payload: invocation.max_child_payload,
                children: Vec::new(),
            },
        };
        let engine = match &self.pre {
            Pre::V0_2(pre) => pre.engine(),
            Pre::V0_1(pre) => pre.engine(),
        };
        let mut store = Store::new(engine, state);
        let started = Instant::now();
        let task = types::Task {
            id: invocation.id,
            task_type: invocation.task_type,
            payload: invocation.payload,
            attempt: invocation.attempt,
            max_attempts: invocation.max_attempts,
            enqueued_at_ms: invocation.enqueued_at_ms,
            deadline_ms: plan.deadline_ms,
            children: invocation.children.into_iter().map(child_result).collect(),
        };
        let result = async {
            arm(&mut store, &plan.limits, plan.deadline, cancel)?;
            match &self.pre {
                Pre::V0_2(pre) => {
                    let handler = pre.instantiate_async(&mut store).await?;
                    handler
                        .wasmq_plugin_handler()
                        .call_handle(&mut store, &task)
                        .await
                }
                Pre::V0_1(pre) => component_v01::call(pre, &mut store, &task).await,
            }
        }
        .await;
        let elapsed = started.elapsed();
        let stderr = stderr.take().text();
        let kind = match result {
            Ok(Ok(output)) if output.data.len() as u64 > plan.limits.max_output => {
                OutcomeKind::OutputTooLarge {
                    size: output.data.len() as u64,
                    limit: plan.limits.max_output,
                }
            }
            Ok(Ok(output)) => OutcomeKind::Success {
                output: output.data,
                content_type: output.content_type,
            },
            Ok(Err(error)) => match error.kind {
                types::ErrorKind::Retryable => OutcomeKind::Retryable {
                    message: error.message,
                    retry_after: error.retry_after_ms.map(std::time::Duration::from_millis),
                },
                types::ErrorKind::Permanent => OutcomeKind::Permanent {
                    message: error.message,
                },
            },
            Err(error) => trapped(
                &error,
                &stderr,
                &store.data().sandbox,
                &plan.limits,
                elapsed,
            ),
        };
        let fuel_used = super::sandbox::fuel_used(&store, plan.limits.fuel);
        let state = store.into_data();
        Finished {
            kind,
            fuel_used,
            elapsed,
            sandbox: state.sandbox,
            stdout: stdout.take().text(),
            stderr,
            children: state.tasks.children,
        }
    }
}

/// A dependency's outcome as the WIT `child-result`.
fn child_result(child: ChildResult) -> types::ChildResult {
    let ChildResult {
        id,
        state,
        output,
        content_type,
        error,
    } = child;
    types::ChildResult {
        id: id.to_string(),
        state: match state {
            ChildState::Completed => types::ChildState::Completed,
            ChildState::Dead => types::ChildState::Dead,
            ChildState::Cancelled => types::ChildState::Cancelled,
            ChildState::Gone => types::ChildState::Gone,
        },
        output: output.map(|data| types::Output { data, content_type }),
        error,
    }
}
