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
//! | [`broker`] | Redis: keys, Lua scripts, leases, stats ([`Client`]) | leaves |
//! | [`runtime`] | wasmtime: engine, compile cache, sandboxed runs | leaves |
//! | [`plugins`] | plugin directory: registry, loader, watcher | `runtime`, leaves |
//! | [`worker`] | leases tasks, runs plugins, acks/retries | `broker`, `plugins`, `runtime` |
//! | [`http`] | JSON API, dashboard, metrics | `broker`, `plugins` |
//! | [`cli`] | the `wasmq` commands | everything |

pub mod broker;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod plugins;
pub mod runtime;
pub mod task;
pub mod worker;

pub use broker::Client;
