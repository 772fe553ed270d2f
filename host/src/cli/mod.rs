//! The `wasmq` command line. Each command lives in a file of its own; this
//! module only parses arguments and dispatches.

pub mod call;
pub mod ops;

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
    #[command(flatten)]
    Ops(ops::OpsCommand),
    // Each helper adds its variants here, e.g. `Call(call::CallArgs)`.
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Call(args) => call::run(args),
        Command::Ops(command) => ops::run(command),
    }
}
