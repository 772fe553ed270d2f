//! A private, throw-away `redis-server` for `wasmq dev` (and the benchmark).
//!
//! Trying wasmq should not need a Redis to be set up, and must never touch
//! one that is already running (the developer's own data lives there). So
//! the dev command starts its own server from `PATH`: on a free port of
//! 127.0.0.1, in a fresh temp dir, without persistence. [`LocalRedis`] kills
//! it and removes the dir when dropped.
//!
//! The server runs in its own process group: Ctrl-C in the terminal reaches
//! only wasmq, which drains its tasks (still talking to this Redis) and then
//! stops the server itself. If wasmq is killed with SIGKILL the server is
//! orphaned; it holds nothing of value and can be killed by its pid, which
//! the dev command prints.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the private server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalRedisError {
    /// `redis-server` is not installed.
    #[error("redis-server not found on PATH: install it with `apt-get install redis-server`")]
    NotInstalled,
    /// Creating the temp dir or picking a port failed.
    #[error("cannot prepare a private redis-server: {0}")]
    Io(#[from] std::io::Error),
    /// The server exited or did not answer in time.
    #[error("redis-server on port {port} did not start: {reason}\n--- its log ({}) ---\n{log}", log_path.display())]
    NotStarted {
        port: u16,
        reason: String,
        log_path: PathBuf,
        log: String,
    },
}

/// A running private `redis-server`; dropped, it is killed and its dir removed.
#[derive(Debug)]
pub struct LocalRedis {
    child: Child,
    port: u16,
    // Removed on drop, after the server is dead.
    dir: tempfile::TempDir,
}

impl LocalRedis {
    /// Starts a server on a free port and waits until it answers PING.
    /// Blocking (at most about ten seconds).
    pub fn start() -> Result<LocalRedis, LocalRedisError> {
        Self::start_on(None)
    }

    /// Starts a server on `port` (one try: a taken port is an error), or on
    /// a free port when `None`.
    pub fn start_on(port: Option<u16>) -> Result<LocalRedis, LocalRedisError> {
        if let Some(port) = port {
            return Self::start_once(Some(port));
        }
        let mut last = None;
        // A port found free can be taken before the server binds it: retry.
        for _ in 0..5 {
            match Self::start_once(None) {
                Ok(redis) => return Ok(redis),
                Err(e @ LocalRedisError::NotStarted { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(LocalRedisError::NotInstalled))
    }

    fn start_once(port: Option<u16>) -> Result<LocalRedis, LocalRedisError> {
        let dir = tempfile::Builder::new()
            .prefix("wasmq-dev-redis-")
            .tempdir()?;
        let port = match port {
            Some(port) => port,
            None => TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port(),
        };
        let log_path = dir.path().join("redis.log");
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--logfile")
            .arg(&log_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LocalRedisError::NotInstalled);
            }
            Err(e) => return Err(e.into()),
        };
        let mut redis = LocalRedis { child, port, dir };
        let started = Instant::now();
        loop {
            if redis.ping() {
                return Ok(redis);
            }
            let reason = match redis.child.try_wait()? {
                Some(status) => Some(format!("it exited with {status}")),
                None if started.elapsed() > START_TIMEOUT => {
                    Some(format!("no answer to PING within {START_TIMEOUT:?}"))
                }
                None => None,
            };
            if let Some(reason) = reason {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(LocalRedisError::NotStarted {
                    port,
                    reason,
                    log_path,
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// The URL to connect to, `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's working directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed() -> bool {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|p| p.join("redis-server").is_file())
        })
    }

    #[test]
    fn starts_answers_and_cleans_up() {
        if !installed() {
            // The message the user would see is tested instead.
            let err = LocalRedis::start().unwrap_err().to_string();
            assert!(err.contains("apt-get install redis-server"), "{err}");
            return;
        }
        let redis = LocalRedis::start().unwrap();
        assert!(redis.ping());
        assert!(redis.url().starts_with("redis://127.0.0.1:"));
        let dir = redis.dir().to_owned();
        let port = redis.port();
        assert!(dir.is_dir());
        drop(redis);
        assert!(!dir.exists(), "{} was not removed", dir.display());
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
            "the server still answers"
        );
    }
}
