//! Fixtures for wasmq's integration tests: real `redis-server` processes on
//! free ports (standalone and a local 3-master cluster) and the real compiled
//! example plugins.
//!
//! Tests never touch the machine's own Redis on 6379: each fixture starts its
//! own server in a temp dir and kills it on drop, so suites run in parallel
//! and fault tests can kill or restart Redis at will.

pub mod browser;
pub mod host;
pub mod http_server;
pub mod plugins;
pub mod redis;
