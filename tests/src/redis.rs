//! Real `redis-server` processes for tests: a standalone server
//! ([`RedisServer`]), a local three-master cluster ([`RedisCluster`]) and a
//! Sentinel-managed master and replica ([`RedisSentinel`]).
//!
//! Each fixture picks free ports, keeps its data in a temp dir, and kills its
//! processes on drop, so tests run in parallel, never touch the machine's own
//! Redis, and fault tests can kill -9 and restart a server at will (with AOF
//! on, `appendfsync always`, acknowledged writes survive the restart).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

mod cluster;
mod dump;
mod sentinel;

pub use cluster::RedisCluster;
pub use sentinel::RedisSentinel;

const MISSING: &str = "install redis-server (apt-get install redis-server)";

/// How long a server may take to answer PING after start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A standalone `redis-server` on a free port.
pub struct RedisServer {
    port: u16,
    dir: TempDir,
    aof: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server without persistence.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a server, with AOF (`appendfsync always`) if `aof`.
    pub fn start_with(aof: bool) -> Self {
        for _ in 0..5 {
            let mut server = Self {
                port: free_port(),
                dir: TempDir::new().expect("create a temp dir for redis-server"),
                aof,
                child: None,
            };
            // A failure means someone took the port between probe and bind.
            if server.spawn().is_ok() {
                return server;
            }
        }
        panic!("could not start redis-server on a free port after 5 tries");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL (no shutdown, no final fsync).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data dir (AOF data, if
    /// any, is reloaded), and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart redis-server: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// One INFO section as a map (`memory`, `cpu`, `stats`, ...).
    pub fn info(&self, section: &str) -> HashMap<String, String> {
        parse_info(&self.cli(&["INFO", section]))
    }

    /// `(calls, usec)` of command `name` (lower case, as `evalsha`) in
    /// `INFO commandstats` since the last `CONFIG RESETSTAT`; zeros when it
    /// never ran.
    pub fn command_stat(&self, name: &str) -> (u64, u64) {
        command_stat(&self.info("commandstats"), name)
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let mut args = base_args(&port, self.dir.path());
        args.extend([
            "--appendonly".into(),
            if self.aof { "yes" } else { "no" }.into(),
        ]);
        if self.aof {
            args.extend(["--appendfsync".into(), "always".into()]);
        }
        let child = spawn_server(&args, self.dir.path())?;
        self.child = Some(child);
        match wait_for_ping(self.port, &mut self.child) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.kill();
                Err(e)
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn base_args(port: &str, dir: &Path) -> Vec<String> {
    [
        "--port",
        port,
        "--bind",
        "127.0.0.1",
        "--dir",
        &dir.to_string_lossy(),
        "--save",
        "",
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        "--logfile",
        "redis.log",
    ]
    .map(String::from)
    .to_vec()
}

fn spawn_server(args: &[String], dir: &Path) -> Result<Child, String> {
    Command::new("redis-server")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => panic!("{MISSING}"),
            _ => format!("spawn redis-server: {e}"),
        })
}

/// Waits until the server answers PING with PONG (not LOADING), or fails if
/// the process exits (port taken) or the timeout passes.
fn wait_for_ping(port: u16, child: &mut Option<Child>) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(format!("redis-server on port {port} exited: {status}"));
        }
        if ping(port) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("redis-server on port {port} did not answer PING"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect(MISSING);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `field:value` lines of an `INFO` reply as a map.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// `(calls, usec)` of command `name` in a parsed `INFO commandstats`.
pub fn command_stat(stats: &HashMap<String, String>, name: &str) -> (u64, u64) {
    let Some(value) = stats.get(&format!("cmdstat_{name}")) else {
        return (0, 0);
    };
    let field = |key: &str| {
        value
            .split(',')
            .find_map(|f| f.strip_prefix(key))
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    (field("calls="), field("usec="))
}
