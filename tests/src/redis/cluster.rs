//! A local Redis Cluster: three masters, and for failover tests one replica
//! each ([`RedisCluster::start_replicated`]).
//!
//! The replicated kind is tuned to fail over fast and lose nothing a test
//! can blame on the fixture: a two-second `cluster-node-timeout` (a killed
//! master's replica is promoted within a few seconds), AOF with
//! `appendfsync always` on every node, and [`RedisCluster::wait_replicated`]
//! to rule out the window that async replication leaves open
//! (docs/scaling.md says what that window can lose in production).

use super::{
    MISSING, START_TIMEOUT, base_args, cli, free_port, parse_info, spawn_server, wait_for_ping,
};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a replica may take to be promoted after its master died.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// A local Redis Cluster of three masters, with or without replicas.
pub struct RedisCluster {
    nodes: Vec<RedisClusterNode>,
}

struct RedisClusterNode {
    port: u16,
    dir: TempDir,
    aof: bool,
    /// `cluster-node-timeout` in milliseconds.
    node_timeout: u32,
    child: Option<Child>,
}

impl RedisClusterNode {
    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let mut args = base_args(&port, self.dir.path());
        args.extend(
            [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                &self.node_timeout.to_string(),
                "--appendonly",
            ]
            .map(String::from),
        );
        args.push(if self.aof { "yes" } else { "no" }.into());
        if self.aof {
            args.extend(["--appendfsync".into(), "always".into()]);
        }
        self.child = Some(spawn_server(&args, self.dir.path())?);
        wait_for_ping(self.port, &mut self.child).inspect_err(|_| self.kill())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn alive(&self) -> bool {
        self.child.is_some()
    }
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with
    /// `redis-cli --cluster create`, and waits for `cluster_state:ok`.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Like [`RedisCluster::start`], with AOF (`appendfsync always`) if `aof`.
    pub fn start_with(aof: bool) -> Self {
        Self::create(3, aof, 5000)
    }

    /// Three masters and three replicas, one per master, with AOF
    /// (`appendfsync always`) and a two-second node timeout, for failovers
    /// (a node starved for one second on a loaded machine could be failed over).
    pub fn start_replicated() -> Self {
        let cluster = Self::create(6, true, 2000);
        cluster.wait_until("every replica to sync", || {
            cluster.nodes[3..].iter().all(|n| {
                let info = parse_info(&cli(n.port, &["INFO", "replication"]));
                info.get("master_link_status").map(String::as_str) == Some("up")
            })
        });
        cluster
    }

    fn create(count: usize, aof: bool, node_timeout: u32) -> Self {
        let mut nodes = Vec::new();
        while nodes.len() < count {
            // The cluster bus listens on port + 10000, which must exist and be free.
            let port = free_port();
            if port > 55_000 || TcpListener::bind(("127.0.0.1", port + 10_000)).is_err() {
                continue;
            }
            let mut node = RedisClusterNode {
                port,
                dir: TempDir::new().expect("create a temp dir for a cluster node"),
                aof,
                node_timeout,
                child: None,
            };
            if node.spawn().is_ok() {
                nodes.push(node);
            }
        }
        let cluster = Self { nodes };
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        // With replicas, redis-cli makes the first three nodes the masters.
        let replicas = (count / 3 - 1).to_string();
        let mut args: Vec<&str> = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", &replicas, "--cluster-yes"]);
        let out = Command::new("redis-cli")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect(MISSING);
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        cluster.wait_ok();
        cluster
    }

    /// `redis://127.0.0.1:<first port>?cluster=true`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}?cluster=true", self.nodes[0].port)
    }

    /// Every node as a seed (`redis+cluster://a,redis+cluster://b,...`), so a
    /// client started after a node died still finds the cluster.
    pub fn seeds_url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("redis+cluster://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The port of the master that serves `key`'s slot.
    pub fn node_of(&self, key: &str) -> u16 {
        let slot: u16 = self
            .cli(&["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .unwrap();
        for line in self.cli(&["CLUSTER", "NODES"]).lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let port = fields[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
            for range in fields.iter().skip(8) {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                if (lo.parse().unwrap()..=hi.parse().unwrap()).contains(&slot) {
                    return port;
                }
            }
        }
        panic!("no node serves slot {slot}");
    }

    /// The ports of the three masters the cluster was created with.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().take(3).map(|n| n.port).collect()
    }

    /// The ports of the replicas ([`RedisCluster::start_replicated`]).
    pub fn replica_ports(&self) -> Vec<u16> {
        self.nodes.iter().skip(3).map(|n| n.port).collect()
    }

    /// Runs `redis-cli` against the node on `port` only.
    pub fn cli_on(&self, port: u16, args: &[&str]) -> String {
        cli(port, args)
    }

    /// Runs `redis-cli -c` (following redirects) against a live node.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut full = vec!["-c"];
        full.extend(args);
        cli(self.live_port(), &full)
    }

    fn live_port(&self) -> u16 {
        self.nodes
            .iter()
            .find(|n| n.alive())
            .map(|n| n.port)
            .expect("a live cluster node")
    }

    /// Waits until every replica's replication offset equals its master's,
    /// so what the masters acknowledged is on the replicas too.
    pub fn wait_replicated(&self) {
        self.wait_until("the replicas to catch up", || {
            self.nodes.iter().filter(|n| n.alive()).all(|n| {
                let info = parse_info(&cli(n.port, &["INFO", "replication"]));
                if info.get("role").map(String::as_str) != Some("master") {
                    return true;
                }
                let offset = info.get("master_repl_offset");
                (0..)
                    .map_while(|i| info.get(&format!("slave{i}")))
                    .all(|line| {
                        line.split(',')
                            .any(|f| Some(&f.replace("offset=", "")) == offset)
                    })
            })
        });
    }

    /// SIGKILLs the node on `port`.
    pub fn kill_node(&mut self, port: u16) {
        let node = self.nodes.iter_mut().find(|n| n.port == port);
        node.expect("a node of this cluster").kill();
    }

    /// Waits until the live nodes agree that the cluster is whole again
    /// (`cluster_state:ok` on each) and no slot is served by a dead node.
    pub fn wait_for_failover(&self) {
        let dead: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| !n.alive())
            .map(|n| format!(":{}@", n.port))
            .collect();
        let deadline = Instant::now() + FAILOVER_TIMEOUT;
        loop {
            let live = self.nodes.iter().filter(|n| n.alive());
            let whole = live.clone().all(|n| {
                let nodes = cli(n.port, &["CLUSTER", "NODES"]);
                cli(n.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
                    && nodes.lines().all(|line| {
                        !dead.iter().any(|d| line.contains(d.as_str())) || line.contains("fail")
                    })
            });
            if whole {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not fail over within {FAILOVER_TIMEOUT:?}:\n{}",
                self.cli(&["CLUSTER", "NODES"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills every node with SIGKILL.
    pub fn kill(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }

    /// Starts every node again on its port and data dir (its `nodes.conf`
    /// and AOF) and waits for `cluster_state:ok`.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        for node in &mut self.nodes {
            while let Err(e) = node.spawn() {
                assert!(Instant::now() < deadline, "restart cluster node: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        self.wait_ok();
    }

    fn wait_ok(&self) {
        self.wait_until("cluster_state:ok", || {
            self.nodes
                .iter()
                .all(|n| cli(n.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        });
    }

    fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "cluster: timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.kill();
    }
}
