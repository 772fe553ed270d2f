//! A local Sentinel-managed group: one master, one replica and three
//! sentinels, all real `redis-server` processes on free ports.
//!
//! The sentinels agree (quorum 2) that the master is down one second after
//! it stops answering, and fail over to the replica within a few seconds, so
//! a test can kill -9 the master and watch clients follow the promotion. Both
//! data servers use AOF with `appendfsync always`; what a failover can still
//! lose is what the master acknowledged but had not yet sent to the replica
//! (replication is asynchronous), which [`RedisSentinel::wait_replicated`]
//! lets a test rule out before the kill.

use super::{START_TIMEOUT, base_args, cli, free_port, parse_info, spawn_server, wait_for_ping};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The name the sentinels monitor the master under.
pub const SERVICE: &str = "wasmq";

/// How long a failover may take, from the kill to a promoted replica.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// One process of the group.
struct Node {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl Node {
    fn new() -> Node {
        Node {
            port: free_port(),
            dir: TempDir::new().expect("create a temp dir for redis-server"),
            child: None,
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn start(&mut self, args: &[String]) {
        let child = spawn_server(args, self.dir.path()).expect("start redis-server");
        self.child = Some(child);
        if let Err(e) = wait_for_ping(self.port, &mut self.child) {
            self.kill();
            panic!("{e}");
        }
    }
}

/// One master, one replica and three sentinels; killed on drop.
pub struct RedisSentinel {
    master: Node,
    replica: Node,
    sentinels: Vec<Node>,
}

impl RedisSentinel {
    /// Starts the group and waits until every sentinel sees the replica and
    /// the other sentinels (so a failover can get its quorum).
    pub fn start() -> RedisSentinel {
        let mut group = RedisSentinel {
            master: Node::new(),
            replica: Node::new(),
            sentinels: (0..3).map(|_| Node::new()).collect(),
        };
        let master_port = group.master.port;
        let args = data_args(master_port, group.master.dir.path());
        group.master.start(&args);
        let mut args = data_args(group.replica.port, group.replica.dir.path());
        args.extend([
            "--replicaof".into(),
            "127.0.0.1".into(),
            master_port.to_string(),
        ]);
        group.replica.start(&args);
        group.wait_until("the replica to sync", || {
            info(group.replica.port, "replication").get("master_link_status")
                == Some(&"up".to_owned())
        });
        for sentinel in &mut group.sentinels {
            let conf = sentinel.dir.path().join("sentinel.conf");
            std::fs::write(
                &conf,
                sentinel_conf(sentinel.port, sentinel.dir.path(), master_port),
            )
            .expect("write sentinel.conf");
            let args = vec![conf.to_string_lossy().into_owned(), "--sentinel".into()];
            sentinel.start(&args);
        }
        group.wait_until("the sentinels to find each other and the replica", || {
            group.sentinels.iter().all(|s| {
                let replicas = cli(s.port, &["SENTINEL", "REPLICAS", SERVICE]);
                let peers = cli(s.port, &["SENTINEL", "SENTINELS", SERVICE]);
                replicas.contains(&group.replica.port.to_string())
                    && peers.lines().filter(|l| *l == "name").count() >= 2
            })
        });
        group
    }

    /// `redis+sentinel://` with the three sentinels and [`SERVICE`].
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("redis+sentinel://{}/{SERVICE}", hosts.join(","))
    }

    /// The port of the server that was master at the start.
    pub fn master_port(&self) -> u16 {
        self.master.port
    }

    /// The port of the server that was the replica at the start.
    pub fn replica_port(&self) -> u16 {
        self.replica.port
    }

    /// Waits until the replica has everything the master has written.
    pub fn wait_replicated(&self) {
        self.wait_until("the replica to catch up", || {
            let master = info(self.master.port, "replication");
            let replica = info(self.replica.port, "replication");
            master.contains_key("master_repl_offset")
                && master.get("master_repl_offset") == replica.get("slave_repl_offset")
        });
    }

    /// Kills the master with SIGKILL.
    pub fn kill_master(&mut self) {
        self.master.kill();
    }

    /// Waits until every sentinel names the old replica as master and it
    /// says so itself.
    pub fn wait_for_failover(&self) {
        let deadline = Instant::now() + FAILOVER_TIMEOUT;
        let replica = self.replica.port.to_string();
        loop {
            let named = self.sentinels.iter().all(|s| {
                cli(s.port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE]).contains(&replica)
            });
            if named && cli(self.replica.port, &["ROLE"]).starts_with("master") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no failover within {FAILOVER_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `redis-cli` against the server that was the replica.
    pub fn replica_cli(&self, args: &[&str]) -> String {
        cli(self.replica.port, args)
    }

    fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        for node in self
            .sentinels
            .iter_mut()
            .chain([&mut self.master, &mut self.replica])
        {
            node.kill();
        }
    }
}

/// A data server's arguments: AOF with `appendfsync always`.
fn data_args(port: u16, dir: &Path) -> Vec<String> {
    let mut args = base_args(&port.to_string(), dir);
    args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
    args
}

/// A sentinel's config file (sentinels rewrite it, so it must be a file).
fn sentinel_conf(port: u16, dir: &Path, master_port: u16) -> String {
    format!(
        "port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n\
         dir {dir}\nlogfile sentinel.log\n\
         sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds {SERVICE} 1000\n\
         sentinel failover-timeout {SERVICE} 5000\n\
         sentinel parallel-syncs {SERVICE} 1\n",
        dir = dir.display()
    )
}

fn info(port: u16, section: &str) -> std::collections::HashMap<String, String> {
    parse_info(&cli(port, &["INFO", section]))
}
