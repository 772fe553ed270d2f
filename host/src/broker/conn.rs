//! Connections to Redis, standalone or Cluster, and the URL convention that
//! picks between them.
//!
//! * `redis://[user:password@]host:port[/db]` — one server; `rediss://` for TLS.
//! * `redis+cluster://host:port` (or `rediss+cluster://`), or any of the
//!   above with `?cluster=true`, or several URLs separated by commas — a Redis
//!   Cluster, with these nodes as seeds. AUTH and TLS come from the first URL;
//!   a seed after the first may be a bare `host:port`
//!   (`redis+cluster://a:7000,b:7001`), which takes the first URL's scheme
//!   and credentials.
//! * `redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`
//!   (or `rediss+sentinel://`) — the master that these Redis Sentinels
//!   monitor under `service`, found again after each failover (`sentinel.rs`).
//!
//! Commands share one multiplexed connection that reconnects with backoff
//! after Redis restarts (`ConnectionManager` standalone, the async cluster
//! client on Cluster). Blocking waits (`BLPOP`) and pub/sub each get a
//! dedicated connection, because a blocking command on the shared one would
//! stall every other caller.

use super::error::{BrokerError, BrokerResult};
use super::redact::mask_password;
use super::sentinel::SentinelTarget;
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, ProtocolVersion,
    RedisFuture, Value,
};
use std::time::Duration;

/// How long establishing one TCP (or TLS) connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the broker's Redis is.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// One server.
    Single(Box<ConnectionInfo>),
    /// A Redis Cluster, by its seed nodes.
    Cluster(Vec<ConnectionInfo>),
    /// The master of a Sentinel-managed group, found on each connect.
    Sentinel(Box<SentinelTarget>),
}

impl Target {
    /// Parses the URL convention described in the module docs.
    pub(crate) fn parse(url: &str) -> BrokerResult<Self> {
        if url.contains("rediss") {
            install_tls_provider();
        }
        if let Some(sentinel) = SentinelTarget::parse(url) {
            return Ok(Target::Sentinel(Box::new(sentinel?)));
        }
        let parts: Vec<&str> = url.split(',').map(str::trim).collect();
        let mut cluster = parts.len() > 1;
        let mut infos = Vec::with_capacity(parts.len());
        let lead = seed_prefix(parts[0]);
        for (i, part) in parts.iter().enumerate() {
            let part = match (i, part.contains("://")) {
                (1.., false) => format!("{lead}{part}"),
                _ => (*part).to_owned(),
            };
            let (plain, wants_cluster) =
                strip_cluster_marker(&part).map_err(|reason| BrokerError::Url {
                    url: mask_password(url),
                    reason,
                })?;
            cluster |= wants_cluster;
            let info = plain
                .as_str()
                .into_connection_info()
                .map_err(|e| BrokerError::Url {
                    url: mask_password(url),
                    reason: format!(
                        "{e}; expected redis://[user:password@]host:port[/db], rediss:// for TLS, \
                     redis+cluster:// or ?cluster=true for Redis Cluster"
                    ),
                })?;
            infos.push(info);
        }
        match (cluster, infos.pop()) {
            (false, Some(info)) => Ok(Target::Single(Box::new(info))),
            (true, Some(last)) => {
                infos.push(last);
                Ok(Target::Cluster(infos))
            }
            (_, None) => Err(BrokerError::Url {
                url: mask_password(url),
                reason: "no URL given".into(),
            }),
        }
    }

    /// True for a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster(_))
    }

    /// True for a Sentinel-managed master, whose address can move.
    pub(crate) fn is_sentinel(&self) -> bool {
        matches!(self, Target::Sentinel(_))
    }

    /// The one server to connect to: the given one, or the master the
    /// sentinels name now. A Cluster has none.
    async fn server(&self) -> redis::RedisResult<ConnectionInfo> {
        match self {
            Target::Single(info) => Ok((**info).clone()),
            Target::Sentinel(sentinel) => sentinel.master().await,
            Target::Cluster(_) => {
                Err(std::io::Error::other("a Redis Cluster has no single server").into())
            }
        }
    }

    /// The shared, reconnecting connection for ordinary commands.
    pub(crate) async fn connect(&self, response_timeout: Duration) -> redis::RedisResult<Conn> {
        match self {
            Target::Single(_) | Target::Sentinel(_) => {
                let info = self.server().await?;
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(response_timeout))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_number_of_retries(4)
                    .set_max_delay(Duration::from_secs(2));
                let client = redis::Client::open(info)?;
                Ok(Conn::Single(
                    client.get_connection_manager_with_config(config).await?,
                ))
            }
            Target::Cluster(nodes) => {
                let client = ClusterClientBuilder::new(nodes.clone())
                    .response_timeout(response_timeout)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// A dedicated connection with no response timeout, for blocking waits.
    pub(crate) async fn connect_blocking(&self) -> redis::RedisResult<Conn> {
        // A Cluster has no single server (its waiters subscribe instead).
        let info = self.server().await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let client = redis::Client::open(info)?;
        Ok(Conn::Dedicated(
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await?,
        ))
    }

    /// The server (the master the sentinels name now) or the seed nodes,
    /// switched to RESP3, which push messages (pub/sub) need.
    pub(crate) async fn resp3_infos(&self) -> redis::RedisResult<Vec<ConnectionInfo>> {
        let infos = match self {
            Target::Cluster(nodes) => nodes.clone(),
            _ => vec![self.server().await?],
        };
        Ok(infos
            .into_iter()
            .map(|info| {
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                info.set_redis_settings(settings)
            })
            .collect())
    }
}

/// The scheme and credentials of `url` (`rediss+cluster://user:pw@`), which
/// a bare `host:port` seed after it takes.
fn seed_prefix(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((credentials, _)) => format!("{scheme}://{credentials}@"),
        None => format!("{scheme}://"),
    }
}

/// Removes wasmq's cluster markers (`+cluster` in the scheme, `cluster=` in
/// the query) and says whether one was there.
fn strip_cluster_marker(url: &str) -> Result<(String, bool), String> {
    let mut cluster = false;
    let mut out = url.to_owned();
    for (marked, plain) in [
        ("redis+cluster://", "redis://"),
        ("rediss+cluster://", "rediss://"),
    ] {
        if let Some(rest) = url.strip_prefix(marked) {
            out = format!("{plain}{rest}");
            cluster = true;
        }
    }
    if let Some((base, query)) = out.clone().split_once('?') {
        let (fragment_free, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        let mut kept = Vec::new();
        for pair in fragment_free.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("cluster", value)) => match value {
                    "true" | "1" | "yes" => cluster = true,
                    "false" | "0" | "no" => {}
                    other => return Err(format!("cluster={other}: use cluster=true or false")),
                },
                _ => kept.push(pair),
            }
        }
        out = base.to_owned();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
    }
    Ok((out, cluster))
}

/// A connection of any kind; implements [`ConnectionLike`] so scripts and
/// commands run on it unchanged.
#[derive(Clone)]
pub(crate) enum Conn {
    /// Standalone, reconnecting.
    Single(ConnectionManager),
    /// Standalone, dedicated to blocking commands.
    Dedicated(MultiplexedConnection),
    /// Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Dedicated(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Dedicated(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Dedicated(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// rustls needs one process-wide crypto provider; redis-rs enables none, so
/// without this a `rediss://` connection panics. Installing twice is a no-op.
fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_conventions() {
        assert!(
            !Target::parse("redis://127.0.0.1:6379")
                .unwrap()
                .is_cluster()
        );
        assert!(
            !Target::parse("redis://u:p@127.0.0.1:6379/2")
                .unwrap()
                .is_cluster()
        );
        assert!(
            Target::parse("redis+cluster://127.0.0.1:7000")
                .unwrap()
                .is_cluster()
        );
        assert!(
            Target::parse("redis://127.0.0.1:7000?cluster=true")
                .unwrap()
                .is_cluster()
        );
        assert!(
            Target::parse("redis://127.0.0.1:7000,redis://127.0.0.1:7001")
                .unwrap()
                .is_cluster()
        );
        assert!(
            !Target::parse("rediss://h:6380/?cluster=false#insecure")
                .unwrap()
                .is_cluster()
        );
        let err = Target::parse("http://u:secret@h:1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("***") && !err.contains("secret"), "{err}");
        let err = Target::parse("redis://h:1?cluster=maybe")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster=maybe"), "{err}");
    }

    #[test]
    fn bare_seeds_take_the_first_urls_scheme_and_credentials() {
        let Target::Cluster(seeds) =
            Target::parse("rediss+cluster://u:pw@a:7000/?x=1, b:7001,redis://c:7002").unwrap()
        else {
            panic!("not a cluster");
        };
        let addrs: Vec<String> = seeds.iter().map(|s| s.addr().to_string()).collect();
        assert_eq!(addrs, ["a:7000", "b:7001", "c:7002"]);
        assert_eq!(seeds[1].redis_settings().password(), Some("pw"));
        assert_eq!(seeds[1].redis_settings().username(), Some("u"));
        assert!(matches!(
            seeds[1].addr(),
            redis::ConnectionAddr::TcpTls { .. }
        ));
        assert!(matches!(seeds[2].addr(), redis::ConnectionAddr::Tcp(..)));
        assert_eq!(seed_prefix("redis://h:1"), "redis://");
        assert_eq!(
            seed_prefix("redis+cluster://:p@h:1/0"),
            "redis+cluster://:p@"
        );
        assert!(
            Target::parse("redis+cluster://a:1,b:2")
                .unwrap()
                .is_cluster()
        );
        assert!(Target::parse("redis+cluster://a:1,:2").is_err());
    }

    #[test]
    fn strips_only_the_marker() {
        let (url, c) = strip_cluster_marker("redis://h:1/?cluster=1&protocol=resp3").unwrap();
        assert!(c);
        assert_eq!(url, "redis://h:1/?protocol=resp3");
        assert_eq!(mask_password("redis://:pw@h:1"), "redis://:***@h:1");
    }
}
