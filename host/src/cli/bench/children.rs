//! Hosts as `wasmq run` child processes (`--child`, `--hosts K`), and
//! making sure none outlives the bench.
//!
//! Every child runs the real binary exactly as an operator would, on the
//! same private plugins directory and namespace, with its own log file.
//! Three things stop them, whatever way the bench ends:
//!
//! * the normal end and any error the bench returns: [`Children::stop`]
//!   sends SIGTERM to all at once, waits a bounded time for their drains,
//!   and SIGKILLs any left;
//! * an early return or a panic that unwinds: [`Drop`] SIGKILLs them (a
//!   killed host holds nothing the bench's cleanup does not delete);
//! * the bench itself killed (SIGKILL, an aborting panic): each child asked
//!   the kernel for SIGTERM when its parent thread ends
//!   (`PR_SET_PDEATHSIG`). The bench spawns from its one runtime thread,
//!   the main thread, which lives as long as the bench.
//!
//! Each child also runs in a process group of its own, so a Ctrl-C in the
//! terminal reaches only the bench, which then stops them itself (see
//! `bench.rs`): otherwise they would start draining on their own while the
//! bench still measured them.

use super::launch::HostSpec;
use anyhow::{Context, Result, bail};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Most `wasmq run` children one bench starts.
pub const MAX_HOSTS: usize = 64;

/// Running `wasmq run` children.
#[derive(Debug, Default)]
pub struct Children {
    procs: Vec<ChildHost>,
}

#[derive(Debug)]
struct ChildHost {
    child: Child,
    log: PathBuf,
}

impl Children {
    /// Starts `spec.hosts` children, logging to `host-<i>.log` in `log_dir`.
    /// If one fails to start, those already started are killed.
    pub fn start(spec: &HostSpec, log_dir: &Path) -> Result<Children> {
        let exe = std::env::current_exe().context("locating the wasmq binary for the hosts")?;
        let mut children = Children::default();
        for i in 0..spec.hosts.clamp(1, MAX_HOSTS) {
            let log = log_dir.join(format!("host-{i}.log"));
            let child = spawn(&exe, spec, &log)?;
            children.procs.push(ChildHost { child, log });
        }
        Ok(children)
    }

    /// The children's process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.child.id()).collect()
    }

    /// Fails, with the child's log, if any child already exited.
    pub fn check_alive(&mut self) -> Result<()> {
        let total = self.procs.len();
        for (i, p) in self.procs.iter_mut().enumerate() {
            if let Some(status) = p.child.try_wait()? {
                bail!(
                    "`wasmq run` host {i} (of {total}) exited with {status}; its log ({}):\n{}",
                    p.log.display(),
                    tail(&p.log)
                );
            }
        }
        Ok(())
    }

    /// SIGTERM to every child, then waits up to `timeout` for all of them;
    /// any still running then is killed. Fails if one did not exit cleanly.
    pub async fn stop(&mut self, timeout: Duration) -> Result<()> {
        if self.procs.is_empty() {
            return Ok(());
        }
        // std has no SIGTERM; `kill` is in every Linux base system.
        let _ = Command::new("kill")
            .arg("-TERM")
            .args(self.pids().iter().map(u32::to_string))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + timeout;
        let mut failures = Vec::new();
        let total = self.procs.len();
        while !self.procs.is_empty() {
            let mut i = 0;
            while i < self.procs.len() {
                match self.procs[i].child.try_wait() {
                    Ok(None) => i += 1,
                    Ok(Some(status)) => {
                        let p = self.procs.swap_remove(i);
                        if !status.success() {
                            failures.push(format!(
                                "a `wasmq run` host exited with {status}; its log ({}):\n{}",
                                p.log.display(),
                                tail(&p.log)
                            ));
                        }
                    }
                    Err(e) => {
                        self.procs.swap_remove(i);
                        failures.push(format!("waiting for a `wasmq run` host: {e}"));
                    }
                }
            }
            if !self.procs.is_empty() && Instant::now() > deadline {
                let left = self.procs.len();
                self.kill();
                failures.push(format!(
                    "{left} of {total} `wasmq run` hosts did not stop within {timeout:?} of \
                     SIGTERM; killed them"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match failures.is_empty() {
            true => Ok(()),
            false => bail!("{}", failures.join("\n")),
        }
    }

    /// SIGKILLs every child and reaps it (bounded: SIGKILL cannot be caught).
    pub fn kill(&mut self) {
        for mut p in self.procs.drain(..) {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts one `wasmq run` child.
fn spawn(exe: &Path, spec: &HostSpec, log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(exe);
    command.arg("run");
    if let Some(path) = &spec.keys_file {
        command.arg("--keys-file").arg(path);
    }
    command
        .args(["--redis", &spec.url])
        .arg("--plugins")
        .arg(&spec.plugins_dir)
        .args(["--namespace", &spec.namespace])
        .args(["--concurrency", &spec.concurrency.to_string()])
        .args(["--log-level", "warn"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .process_group(0);
    let parent = std::process::id();
    // SAFETY: runs in the forked child before exec; prctl and getppid are
    // async-signal-safe system calls and the closure allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The bench died between fork and prctl: nobody would stop us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    command
        .spawn()
        .with_context(|| format!("starting `{} run`", exe.display()))
}

/// The last lines of a log file, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
