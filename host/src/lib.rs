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
//! | [`plugins`] | plugin directory and pushed plugins: registry, loader, watcher | `runtime`, leaves |
//! | [`worker`] | leases tasks, runs plugins, acks/retries | `broker`, `plugins`, `runtime` |
//! | [`http`] | JSON API, dashboard, metrics | `broker`, `plugins` |
//! | [`cli`] | the `wasmq` commands | everything |
//!
//! ## Life of a task
//!
//! One task, from the producer to `ack.lua`, hop by hop. Each function is
//! written with its parentheses and followed by the file (under
//! `host/src/`) that defines it; a unit test (life_map.rs) checks that
//! every one is still defined there, so the tests fail when a hop is
//! renamed or moved without this map.
//!
//! 1. **Enqueue.** `Client::enqueue()` (`broker/enqueue.rs`) checks the spec
//!    (`TaskSpec::check_options()`, `task/spec.rs`) and runs `enqueue.lua`:
//!    the body goes into the queue's `t` hash and the id onto a pending list
//!    `p0`..`p2` (or the `scheduled` set with a delay), and one wake token
//!    is pushed for idle hosts.
//! 2. **Wait and lease.** On every host, `lease_loop()` (`worker/leaser.rs`)
//!    asks the scheduler how many tasks each served queue wants, leases
//!    only from queues not found empty since their last wake token
//!    (`Quiet::is_quiet()`, `worker/wake.rs`), waits for a wake token of
//!    those when none has work (`Waiter::wait_for_work()`,
//!    `broker/waiter.rs`: one `BLPOP` of the wake lists on a single server;
//!    on Cluster the token's push is announced on `<ns>:wake`, the client's
//!    one subscription marks the list for its waiters in `Shared::heard()`
//!    (`broker/waiter/hub.rs`), and the waiter takes the token with
//!    `take_token()` (`broker/waiter.rs`)), and calls `Client::lease()`
//!    (`broker/lease.rs`): `lease.lua` checks the queue's rate limit and
//!    concurrency cap, then moves ids from pending to `active` under one
//!    token and deadline.
//! 3. **Hand over.** Each lease enters `Inflight::insert()`
//!    (`worker/inflight.rs`), keyed by its lease (id and token), never by id
//!    alone, and its ticket goes to `Scheduler::push()` (`worker/sched.rs`),
//!    which shares the executors fairly between task types.
//! 4. **Run.** An `executor()` (`worker/execute.rs`), a tokio task on the
//!    guest runtime, takes the next ticket from `Scheduler::next_job()`
//!    (`worker/sched.rs`); `run_task()` (`worker/execute.rs`) opens the body,
//!    finds the plugin with `Registry::get_loaded()` (`plugins/registry.rs`)
//!    and awaits `Plugin::run()` (`runtime/plugin.rs`): a fresh store armed
//!    with fuel, a memory limiter and an epoch deadline by `arm()`
//!    (`runtime/sandbox.rs`), instantiated and called by `Prepared::run()`
//!    (`runtime/component.rs`), under a timer that also drops a run blocked
//!    in a host call. What happened becomes an `Outcome` (`classify()`,
//!    `runtime/classify.rs`).
//! 5. **Decide.** `decide()` (`worker/policy.rs`) turns the outcome, the
//!    attempt and the retry settings into ack, retry, dead or release.
//! 6. **Meanwhile.** `keep_leases()` (`worker/keeper.rs`) extends each
//!    queue's leases every lease/3 with `Client::extend()`
//!    (`broker/settle.rs`, `extend.lua`) until the run's deadline plus a
//!    grace; `listen_for_cancellations()` (`worker/keeper.rs`) trips the
//!    run's cancel token when `Client::cancel()` (`broker/admin.rs`,
//!    `cancel.lua`) publishes its id; once the plugin reports progress,
//!    `run_with_progress()` (`worker/progress.rs`) keeps the latest report
//!    with the task by `Client::report_progress()` (`broker/progress.rs`,
//!    `progress.lua`), at most once a second.
//! 7. **Settle.** The verdict goes to `route()` and then the queue's
//!    `Settler::lane()` (`worker/settle.rs`), which batches verdicts so one
//!    queue's outage never holds up another; `Settler::settle()`
//!    (`worker/settle.rs`) sends a batch of successes to `Client::ack_many()`
//!    (`broker/settle.rs`, `ack.lua`), which stores the output, counts the
//!    task and drops the lease, if the token still matches. The same call
//!    keeps the run's cost, log and progress, as `run_report()`
//!    (`worker/report.rs`) took them from the outcome, in the task's run
//!    history (`Client::task_runs()`, `broker/runs.rs`) and its cost in the
//!    plugin's cost histograms (`Client::plugin_costs()`,
//!    `broker/costs.rs`). Then the lease leaves `Inflight::remove()`
//!    (`worker/inflight.rs`).
//!
//! The failure branches leave the same way, from `Settler::settle()`
//! (`worker/settle.rs`):
//!
//! * **Retry**: `Client::retry()` (`broker/settle.rs`, `retry.lua`) puts the
//!   id in the `retry` set at its backoff; maintenance promotes it back.
//! * **Dead**: `Client::dead()` (`broker/settle.rs`, `dead.lua`) moves it to
//!   the dead-letter set with its reason; `wasmq dead requeue` re-drives it.
//! * **Release**: a cancelled or unstarted task goes back by
//!   `Client::release()` (`broker/settle.rs`, `release.lua`).
//! * **Stale lease**: any settle script refuses a token that no longer
//!   matches (the lease expired and the task was re-delivered), and the
//!   verdict is counted and dropped.
//! * **Host died**: nobody settles; its leases expire, and
//!   `Client::run_maintenance()` (`broker/maintainer.rs`) on any host runs
//!   `Client::maintain_queue()` (`broker/maintenance.rs`, `maintain.lua`),
//!   which reaps them to pending (or dead, past the attempts) and promotes
//!   due retries and delayed tasks.
//!
//! Beside the main path:
//!
//! * **Children.** A run's `tasks::enqueue` calls are collected in its
//!   `Outcome` (`runtime/tasks_host.rs`) and committed by `ack.lua` to the
//!   queue's outbox, only with a success; `Settler::forward_soon()`
//!   (`worker/settle.rs`) and maintenance then call
//!   `Client::forward_children()` (`broker/outbox.rs`, `forward.lua`),
//!   which enqueues them under ids derived from the parent's.
//! * **Flows.** `Client::enqueue_flow()` (`broker/flows.rs`,
//!   `flow_enqueue.lua`) holds a parent in its queue's `waiting` set; each
//!   maintenance tick `Client::resolve_flows()` (`broker/flow_resolve.rs`)
//!   reads its dependencies' states in their own slots and reports them to
//!   `flow_settle.lua`, which releases the parent once every dependency has
//!   settled; the parent's run reads their outcomes with
//!   `Client::flow_results()` (`broker/flow_results.rs`).
//! * **Schedules.** `run_schedules()` (`worker/schedules.rs`) enqueues each
//!   due cron fire under a unique key, then claims it with
//!   `schedule_claim.lua`, so every fire makes one task whatever the number
//!   of hosts.

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

#[cfg(test)]
mod life_map;

pub use broker::Client;
