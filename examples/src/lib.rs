//! Examples of using wasmq from Rust.
//!
//! * `producer` (`cargo run -p wasmq-examples --bin producer -- --redis URL --n 1000`)
//!   enqueues the classic mixed workload: email tasks and image tasks, every
//!   tenth one high priority, some delayed by minutes.
