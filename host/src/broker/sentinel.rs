//! Finding the master through Redis Sentinel.
//!
//! With Sentinel, the address of the master is not configuration: it moves
//! when a failover promotes a replica. So a `redis+sentinel://` URL names
//! the sentinels and the service, and the broker asks the sentinels for the
//! master each time it (re)connects:
//!
//! ```text
//! redis+sentinel://[user:password@]host:port[,host:port...]/service[/db][?sentinel_password=...]
//! ```
//!
//! `rediss+sentinel://` uses TLS to the sentinels and the master. The user
//! and password are the master's; the sentinels get `sentinel_password` if
//! given, and no AUTH otherwise.
//!
//! A sentinel's answer is checked with `ROLE` on the master it names: right
//! after a failover a sentinel can still name the old master, and a client
//! that trusted it would write to a server about to become a replica. When
//! the master dies or is demoted, commands fail (connection refused, or
//! `READONLY` from the demoted server), and the client resolves again (see
//! `Client::fail`).

use super::error::{BrokerError, BrokerResult};
use super::redact::mask_password;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Value};
use std::time::Duration;

/// How long one sentinel or one candidate master may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Most sentinels one URL may name.
const MAX_SENTINELS: usize = 16;

/// The sentinels to ask and the master to ask them for.
#[derive(Debug, Clone)]
pub(crate) struct SentinelTarget {
    /// Where the sentinels listen.
    sentinels: Vec<ConnectionInfo>,
    /// The monitored master's name (`sentinel monitor <name> ...`).
    service: String,
    /// How to talk to the master once found (AUTH, db, TLS); its address
    /// is replaced by the one the sentinels give.
    master: ConnectionInfo,
}

impl SentinelTarget {
    /// Parses a `redis+sentinel://` or `rediss+sentinel://` URL; `None`
    /// when `url` is not one.
    pub(crate) fn parse(url: &str) -> Option<BrokerResult<Self>> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            (false, rest)
        } else {
            (true, url.strip_prefix("rediss+sentinel://")?)
        };
        Some(parse_rest(tls, rest).map_err(|reason| BrokerError::Url {
            url: mask_password(url),
            reason: format!(
                "{reason}; expected redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]"
            ),
        }))
    }

    /// Asks the sentinels, in turn, for the master, and checks with `ROLE`
    /// that it is one. Fails when no sentinel names a reachable master.
    pub(crate) async fn master(&self) -> redis::RedisResult<ConnectionInfo> {
        let mut errors = Vec::new();
        for sentinel in &self.sentinels {
            let addr = sentinel.addr().to_string();
            match self.ask(sentinel).await {
                Ok(master) => match is_master(&master).await {
                    Ok(true) => return Ok(master),
                    Ok(false) => errors.push(format!(
                        "sentinel {addr} named {} which is not a master (yet)",
                        master.addr()
                    )),
                    Err(e) => errors.push(format!("master {} from {addr}: {e}", master.addr())),
                },
                Err(e) => errors.push(format!("sentinel {addr}: {e}")),
            }
        }
        Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            format!(
                "no sentinel named a reachable master for service {:?}: {}",
                self.service,
                errors.join("; ")
            ),
        )))
    }

    /// One sentinel's answer to `SENTINEL get-master-addr-by-name`.
    async fn ask(&self, sentinel: &ConnectionInfo) -> redis::RedisResult<ConnectionInfo> {
        let mut conn = open(sentinel).await?;
        let reply: Option<(String, u16)> = timed(
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.service)
                .query_async(&mut conn),
        )
        .await?;
        let Some((host, port)) = reply else {
            return Err(not_found(format!(
                "it does not monitor a master named {:?}",
                self.service
            )));
        };
        let addr = match self.master.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        Ok(self.master.clone().set_addr(addr))
    }
}

/// Whether the server at `info` says it is a master.
async fn is_master(info: &ConnectionInfo) -> redis::RedisResult<bool> {
    let mut conn = open(info).await?;
    let role: Vec<Value> = timed(redis::cmd("ROLE").query_async(&mut conn)).await?;
    Ok(matches!(role.first(), Some(Value::BulkString(b)) if b == b"master"))
}

/// A short-lived connection for one question.
async fn open(info: &ConnectionInfo) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(ASK_TIMEOUT))
        .set_response_timeout(Some(ASK_TIMEOUT));
    redis::Client::open(info.clone())?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Bounds one question by [`ASK_TIMEOUT`].
async fn timed<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(ASK_TIMEOUT, call).await {
        Ok(result) => result,
        Err(_) => {
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time").into())
        }
    }
}

fn not_found(message: String) -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::NotFound, message).into()
}

/// Parses what follows the scheme: `[userinfo@]hosts/service[/db][?query]`.
fn parse_rest(tls: bool, rest: &str) -> Result<SentinelTarget, String> {
    let scheme = if tls { "rediss" } else { "redis" };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = rest
        .split_once('/')
        .ok_or("no service name: add /<service> after the sentinels")?;
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let service = parts
        .next()
        .ok_or("no service name: add /<service> after the sentinels")?;
    if service.len() > 256 || service.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("service name {service:?} is not a plain name"));
    }
    let db = match parts.next() {
        Some(db) => db
            .parse::<u16>()
            .map_err(|_| format!("database {db:?} is not a number"))?,
        None => 0,
    };
    if let Some(extra) = parts.next() {
        return Err(format!(
            "unexpected path segment {extra:?} after the database"
        ));
    }
    let mut sentinel_password = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("sentinel_password", value)) => sentinel_password = Some(value),
            _ => {
                return Err(format!(
                    "unknown option {pair:?}: only sentinel_password is known"
                ));
            }
        }
    }
    let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
    if hosts.iter().any(|h| h.is_empty()) {
        return Err("an empty sentinel address".into());
    }
    if hosts.len() > MAX_SENTINELS {
        return Err(format!(
            "{} sentinels given; at most {MAX_SENTINELS}",
            hosts.len()
        ));
    }
    let mut sentinels = Vec::with_capacity(hosts.len());
    for host in &hosts {
        let auth = sentinel_password
            .map(|p| format!(":{p}@"))
            .unwrap_or_default();
        let info = format!("{scheme}://{auth}{host}")
            .into_connection_info()
            .map_err(|e| format!("sentinel address {host:?}: {e}"))?;
        sentinels.push(info);
    }
    let auth = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let master = format!("{scheme}://{auth}{}/{db}", hosts[0])
        .into_connection_info()
        .map_err(|e| format!("master settings: {e}"))?;
    Ok(SentinelTarget {
        sentinels,
        service: service.to_owned(),
        master,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> BrokerResult<SentinelTarget> {
        SentinelTarget::parse(url).expect("a sentinel URL")
    }

    #[test]
    fn sentinels_service_and_db() {
        let t = parse("redis+sentinel://u:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster/2").unwrap();
        assert_eq!(t.service, "mymaster");
        assert_eq!(t.sentinels.len(), 2);
        assert_eq!(t.sentinels[1].addr().to_string(), "127.0.0.1:26380");
        assert_eq!(t.sentinels[0].redis_settings().password(), None);
        assert_eq!(t.master.redis_settings().password(), Some("pw"));
        assert_eq!(t.master.redis_settings().db(), 2);
        let t = parse("redis+sentinel://h:1/m?sentinel_password=s").unwrap();
        assert_eq!(t.sentinels[0].redis_settings().password(), Some("s"));
        assert_eq!(t.master.redis_settings().password(), None);
    }

    #[test]
    fn other_schemes_are_not_sentinel() {
        assert!(SentinelTarget::parse("redis://h:1").is_none());
        assert!(SentinelTarget::parse("redis+cluster://h:1").is_none());
    }

    #[test]
    fn bad_urls_say_what_is_wrong_and_hide_the_password() {
        for (url, says) in [
            ("redis+sentinel://u:secret@h:1", "no service name"),
            ("redis+sentinel://h:1/", "no service name"),
            ("redis+sentinel://h:1/m/x", "database \"x\""),
            ("redis+sentinel://h:1/m/0/extra", "unexpected path segment"),
            ("redis+sentinel://h:1,,h:2/m", "empty sentinel address"),
            ("redis+sentinel://h:1/m?password=x", "unknown option"),
        ] {
            let err = parse(url).expect_err(url).to_string();
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: {err}");
        }
        let many = vec!["h:1"; MAX_SENTINELS + 1].join(",");
        let err = parse(&format!("redis+sentinel://{many}/m"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("at most"), "{err}");
    }
}
