//! `stall-cmd`: the `stall` component's behaviours as a WASI command. The
//! payload (on stdin) names the mode: `sleep`, `stdin`, `clock` or `loop`;
//! see `plugins/stall-modes`, which both plugins share so the two
//! plugin kinds are tested against the same guest code.

use std::io::Read;
use std::process::ExitCode;

use stall_modes as modes;

fn main() -> ExitCode {
    let mut payload = Vec::new();
    if let Err(err) = std::io::stdin().read_to_end(&mut payload) {
        eprintln!("stall-cmd: cannot read the payload: {err}");
        return ExitCode::FAILURE;
    }
    match modes::Mode::parse(&payload) {
        Ok(mode) => {
            mode.stall();
            println!("the host let a stalled guest finish");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("stall-cmd: {message}");
            ExitCode::FAILURE
        }
    }
}
