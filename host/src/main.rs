//! The `wasmq` binary: parses the command line and hands off to [`wasmq::cli`].

fn main() -> std::process::ExitCode {
    wasmq::cli::main()
}
