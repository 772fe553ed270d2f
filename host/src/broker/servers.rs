//! Every master behind a URL, one by one, for tools that must see them
//! apart.
//!
//! The broker's connection hides how many servers there are: on Cluster
//! each command goes to the master that owns its key. Some questions are
//! per server, though: `INFO` reports one process's memory and CPU, and
//! `SCAN` walks one server's keyspace only. [`Servers`] asks every master
//! (the one server standalone or under Sentinel, each master that serves
//! slots on Cluster) through the very connection the broker uses, so the
//! URL convention, AUTH, TLS and the cluster topology are handled in one
//! place (`conn.rs`). `wasmq bench` sums its readings over the masters and
//! sweeps its namespace off each of them.
//!
//! A plain URL that names a node of a Redis Cluster is refused: through it
//! a tool would see one master of several, and its figures would silently
//! cover a part of the data.

use super::conn::{Conn, Target};
use super::error::{BrokerError, BrokerResult};
use super::redact::mask_password;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, FromRedisValue, Value};
use std::time::Duration;

/// The masters of the Redis a URL names, reachable one at a time.
pub struct Servers {
    conn: Conn,
    /// The URL, password masked, for messages and as the standalone label.
    shown: String,
}

impl std::fmt::Debug for Servers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Servers")
            .field("url", &self.shown)
            .field("cluster", &self.is_cluster())
            .finish_non_exhaustive()
    }
}

impl Servers {
    /// Connects to `url` (any form the broker takes); every reply must come
    /// within `response_timeout`.
    pub async fn connect(url: &str, response_timeout: Duration) -> BrokerResult<Servers> {
        let shown = mask_password(url);
        let target = Target::parse(url)?;
        let conn = target
            .connect(response_timeout)
            .await
            .map_err(|e| BrokerError::redis(format!("connect to {shown}"), e))?;
        let mut servers = Servers { conn, shown };
        if !servers.is_cluster() {
            let info = servers
                .one(redis::cmd("INFO").arg("cluster"), "INFO cluster")
                .await?;
            if info.lines().any(|l| l.trim_end() == "cluster_enabled:1") {
                return Err(BrokerError::Url {
                    url: servers.shown,
                    reason: "this server is a node of a Redis Cluster, and through a plain URL \
                             only its own keys are seen; write redis+cluster://host:port (or add \
                             ?cluster=true) so that every master is reached"
                        .into(),
                });
            }
        }
        Ok(servers)
    }

    /// True when the URL names a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// `INFO <sections>` of every master, as (address, text) pairs, in
    /// address order. Standalone, the address is the URL.
    pub async fn info(&mut self, sections: &[&str]) -> BrokerResult<Vec<(String, String)>> {
        let mut cmd = redis::cmd("INFO");
        for section in sections {
            cmd.arg(*section);
        }
        let op = format!("INFO {}", sections.join(" "));
        match &mut self.conn {
            Conn::Cluster(c) => {
                let all = MultipleNodeRoutingInfo::AllMasters;
                let value = c
                    .route_command(cmd, RoutingInfo::MultiNode((all, None)))
                    .await
                    .map_err(|e| BrokerError::redis(&op, e))?;
                per_node(&op, value)
            }
            _ => Ok(vec![(self.shown.clone(), self.one(&cmd, &op).await?)]),
        }
    }

    /// Deletes every key matching `pattern` (a `SCAN MATCH` glob) on every
    /// master, `batch` keys per `SCAN` step and `UNLINK` call; returns how
    /// many were deleted. Never flushes anything.
    pub async fn delete_matching(&mut self, pattern: &str, batch: usize) -> BrokerResult<u64> {
        let batch = batch.max(1);
        let nodes: Vec<String> = match self.is_cluster() {
            true => self
                .info(&["server"])
                .await?
                .into_iter()
                .map(|n| n.0)
                .collect(),
            false => vec![self.shown.clone()],
        };
        let mut deleted = 0u64;
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(batch);
                let op = format!("SCAN {pattern} on {node}");
                let reply = self.on_node(&node, scan, &op).await?;
                let (next, keys) = <(u64, Vec<Vec<u8>>)>::from_redis_value(reply)
                    .map_err(|e| BrokerError::reply(&op, e.to_string()))?;
                for chunk in keys.chunks(batch) {
                    // On Cluster the client splits a multi-key UNLINK by
                    // slot and sums the replies.
                    let op = format!("UNLINK keys matching {pattern}");
                    let n: u64 = redis::cmd("UNLINK")
                        .arg(chunk)
                        .query_async(&mut self.conn)
                        .await
                        .map_err(|e| BrokerError::redis(&op, e))?;
                    deleted += n;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(deleted)
    }

    /// Runs `cmd` on the one master named `node` (an address from
    /// [`Servers::info`]; standalone, the only server).
    async fn on_node(&mut self, node: &str, cmd: Cmd, op: &str) -> BrokerResult<Value> {
        match &mut self.conn {
            Conn::Cluster(c) => {
                let (host, port) = split_addr(node)
                    .ok_or_else(|| BrokerError::reply(op, format!("node address {node:?}")))?;
                let to = SingleNodeRoutingInfo::ByAddress { host, port };
                c.route_command(cmd, RoutingInfo::SingleNode(to))
                    .await
                    .map_err(|e| BrokerError::redis(op, e))
            }
            conn => cmd
                .query_async(conn)
                .await
                .map_err(|e| BrokerError::redis(op, e)),
        }
    }

    /// A text reply from the one server (not on Cluster).
    async fn one(&mut self, cmd: &Cmd, op: &str) -> BrokerResult<String> {
        cmd.query_async(&mut self.conn)
            .await
            .map_err(|e| BrokerError::redis(format!("{op} on {}", self.shown), e))
    }
}

/// The (address, text) pairs of a reply routed to several nodes, which the
/// cluster client returns as a map by node address.
fn per_node(op: &str, value: Value) -> BrokerResult<Vec<(String, String)>> {
    let Value::Map(pairs) = value else {
        return Err(BrokerError::reply(
            op,
            format!("not a map by node: {value:?}"),
        ));
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (node, reply) in pairs {
        let node = String::from_redis_value(node)
            .map_err(|e| BrokerError::reply(op, format!("node address: {e}")))?;
        if let Value::ServerError(e) = reply {
            return Err(BrokerError::reply(op, format!("{node} answered {e:?}")));
        }
        let text = String::from_redis_value(reply)
            .map_err(|e| BrokerError::reply(op, format!("{node}: {e}")))?;
        out.push((node, text));
    }
    out.sort();
    Ok(out)
}

/// `host:port` (the host may be an IPv6 address) as its parts.
fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addresses_split_at_the_last_colon() {
        assert_eq!(
            split_addr("127.0.0.1:7000"),
            Some(("127.0.0.1".into(), 7000))
        );
        assert_eq!(split_addr("[::1]:7001"), Some(("::1".into(), 7001)));
        assert_eq!(
            split_addr("redis.local:65535"),
            Some(("redis.local".into(), 65535))
        );
        assert_eq!(split_addr("nohost"), None);
        assert_eq!(split_addr("h:99999"), None);
    }

    #[test]
    fn per_node_replies_are_sorted_and_errors_named() {
        let reply = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let map = Value::Map(vec![
            (reply("b:2"), reply("used_memory:2")),
            (reply("a:1"), reply("used_memory:1")),
        ]);
        let nodes = per_node("INFO", map).unwrap();
        assert_eq!(nodes[0], ("a:1".into(), "used_memory:1".into()));
        assert_eq!(nodes.len(), 2);
        let err = per_node("INFO", reply("x")).unwrap_err().to_string();
        assert!(err.contains("not a map"), "{err}");
    }
}
