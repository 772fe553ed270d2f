//! The `wasmq` command line. Each command lives in a file of its own; this
//! module only parses arguments and dispatches.

pub mod bench;
pub mod call;
pub mod call_grants;
pub mod demo;
pub mod dev;
pub mod host;
pub mod keys;
pub mod local_redis;
pub mod logging;
pub mod new;
pub mod ops;
pub mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// wasmq: a Redis task queue that runs each task type's handler as a
/// sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "wasmq", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one task through a plugin locally, without Redis.
    Call(call::CallArgs),
    /// Run a host: lease tasks from Redis and run them in their plugins.
    Run(run::RunArgs),
    /// Try wasmq locally: a private Redis, a host and the dashboard in one command.
    Dev(dev::DevArgs),
    /// Measure throughput, latency and cost per task against a real Redis.
    Bench(bench::BenchArgs),
    /// Create a plugin project (Rust, JavaScript or Python) that builds and runs.
    New(new::NewArgs),
    #[command(flatten)]
    Ops(ops::OpsCommand),
    // Each helper adds its variants here, e.g. `Call(call::CallArgs)`.
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Call(args) => call::run(args),
        Command::Run(args) => run::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Bench(args) => bench::run(args),
        Command::New(args) => new::run(args),
        Command::Ops(command) => ops::run(command),
    }
}

/// How many worker threads a command's async runtime has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only: operator commands and the bench's client.
    One,
    /// One per core: hosts, where runs and Redis calls overlap.
    PerCore,
}

/// The async runtime a command runs on, or — when the OS refuses one —
/// the failure exit code after saying so on stderr.
pub fn async_runtime(threads: Threads) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::PerCore => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}
