//! Fixtures and helpers for wasmq's integration tests, in one crate so every
//! suite shares one copy: real `redis-server` processes on free ports
//! (standalone and a local 3-master cluster), the real compiled example
//! plugins, the real `wasmq` binary, and the calls the suites build on.
//!
//! Tests never touch the machine's own Redis on 6379: each fixture starts its
//! own server in a temp dir and kills it on drop, so suites run in parallel
//! and fault tests can kill or restart Redis at will.
//!
//! | module | for |
//! |---|---|
//! | [`redis`] | `redis-server` processes: standalone and cluster |
//! | [`backends`] | a scenario run on both kinds ([`both_backends!`]) |
//! | [`broker`] | the broker driven as a host drives it |
//! | [`plugins`] | the built example plugins and the `wasmq` binary |
//! | [`plugins_dir`] | plugins directories, scanned and watched |
//! | [`host`] | `wasmq run` processes and whole workloads |
//! | [`cli`] | `wasmq` commands run as a user runs them |
//! | [`api`] | the HTTP API server and a client for it |
//! | [`browser`] | a headless Chromium for the dashboard |
//! | [`http_server`] | an HTTP server for plugins' outbound requests |

pub mod api;
pub mod backends;
pub mod broker;
pub mod browser;
pub mod cli;
pub mod host;
pub mod http_server;
pub mod plugins;
pub mod plugins_dir;
pub mod redis;
