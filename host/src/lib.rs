//! # wasmq
//!
//! A Redis task queue whose handlers are sandboxed WebAssembly plugins.
//! Producers enqueue tasks with [`Client`]; hosts (`wasmq run`) lease them
//! atomically from Redis and run the plugin for each task's type in a fresh
//! wasmtime instance, with a fuel budget, a wall-clock deadline and a memory
//! cap that really stop a runaway handler.
//!
//! ## Layout
//!
//! Dependencies point one way, from the leaves to `main`:
//!
//! | module | role | may use |
//! |---|---|---|
//! | [`task`] | task ids, priorities, options, the stored encoding | — |
//! | [`config`] | host config, limits, plugin manifests | — |
//! | [`error`] | shared input-validation errors | — |
//! | [`schedule`] | cron schedules: definitions, next fires | leaves |
//! | [`broker`] | Redis: keys, Lua scripts, leases, stats ([`Client`]) | leaves |
//! | [`runtime`] | wasmtime: engine, compile cache, sandboxed runs | leaves |
//! | [`plugins`] | plugin directory: registry, loader, watcher | `runtime`, leaves |
//! | [`worker`] | leases tasks, runs plugins, acks/retries | `broker`, `plugins`, `runtime` |
//! | [`http`] | JSON API, dashboard, metrics | `broker`, `plugins` |
//! | [`cli`] | the `wasmq` commands | everything |
//!
//! ## Life of a task
//!
//! Each hop, by function and file (under `host/src/`):
//!
//! 1. **Enqueue.** [`Client::enqueue`] (`broker/client.rs`) checks the spec
//!    (`TaskSpec::check_options`, `task/spec.rs`) and runs `enqueue.lua`:
//!    the body goes into the queue's `t` hash, the id onto `p0`..`p2` (or
//!    `scheduled` with a delay).
//! 2. **Lease.** `lease_loop` (`worker/leaser.rs`) asks the scheduler what
//!    each served queue wants and calls `Client::lease`
//!    (`broker/consumer.rs`, `lease.lua`), which moves ids to `active` under
//!    one token and deadline. Each lease enters `Inflight::insert`
//!    (`worker/inflight.rs`), keyed by (id, token), and its task
//!    `Scheduler::push` (`worker/sched.rs`).
//! 3. **Run.** An executor (`executor`, `worker/execute.rs`, a tokio task
//!    on the guest runtime) takes it from `Scheduler::next_job`; `run_task`
//!    finds the plugin (`Registry::get_loaded`, `plugins/registry.rs`) and
//!    awaits `Plugin::run` (`runtime/plugin.rs`): a fresh store armed with
//!    fuel, memory limiter and epoch callback (`arm`, `runtime/sandbox.rs`),
//!    `instantiate_async` and the call (`runtime/component.rs` or
//!    `runtime/command.rs`), under a timer that drops a run blocked in a
//!    host call. The result becomes an `Outcome` (`classify`,
//!    `runtime/classify.rs`), then a decision (`decide`, `worker/policy.rs`).
//! 4. **Meanwhile.** `keep_leases` (`worker/keeper.rs`) extends each queue's
//!    leases every lease/3 (`Client::extend`, `extend.lua`) until the run's
//!    deadline plus a grace, and trips the run's `CancelToken` when a cancel
//!    is asked (`listen_for_cancellations`, `cancel.lua`'s publish).
//! 5. **Settle.** The verdict goes to `route` and the queue's `lane`
//!    (`worker/settle.rs`), which batches it into `Client::ack_many`
//!    (`ack.lua`), `retry` (`retry.lua`), `dead` (`dead.lua`) or `release`
//!    (`release.lua`), all in `broker/consumer.rs` and `broker/settle.rs`; a
//!    stale token is refused there. Then the lease leaves `Inflight`.
//! 6. **Later.** `Client::run_maintenance` (`broker/maintainer.rs`,
//!    `maintain.lua`) promotes due retries and delayed tasks to pending and
//!    reaps leases whose host died; `trim_results.lua` ages out results.
//! 7. **Children.** A run's `tasks::enqueue` calls are collected in its
//!    `Outcome` (`runtime/tasks_host.rs`) and committed by `ack.lua` to the
//!    queue's outbox, only with a success; `forward_soon`
//!    (`worker/settle.rs`) and the maintenance tick then call
//!    `Client::forward_children` (`broker/outbox.rs`, `forward.lua`), which
//!    enqueues them in their own queues under ids derived from the parent's.
//! 8. **Flows.** `Client::enqueue_flow` (`broker/flows.rs`,
//!    `flow_enqueue.lua`) holds a parent in its queue's `waiting` set; on
//!    each maintenance tick `Client::resolve_flows` (`broker/flow_resolve.rs`)
//!    reads its dependencies' states in their own slots and reports them
//!    to `flow_settle.lua`, which releases the parent to pending (or
//!    buries it) once every dependency has settled.
//! 9. **Schedules.** `run_schedules` (`worker/schedules.rs`) enqueues each
//!    due cron fire under a unique key, then claims it
//!    (`schedule_claim.lua`), so every fire makes one task whatever the
//!    number of hosts.

pub mod broker;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod plugins;
pub mod ratelimit;
pub mod runtime;
pub mod schedule;
pub mod task;
pub mod worker;

pub use broker::Client;
