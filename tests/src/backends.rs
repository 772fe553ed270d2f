//! The two kinds of Redis the broker must work on, side by side: every
//! broker scenario has to hold on a standalone server and on a 3-master
//! cluster (where keys hash to different nodes), so a scenario is written
//! once as `async fn scenario(url: String)` and [`both_backends!`] turns it
//! into one test per kind. [`Raw`] plants or reads keys behind the broker's
//! back on either kind, to prove what the broker wrote.
//!
//! [`both_backends!`]: crate::both_backends

use crate::redis::{RedisCluster, RedisServer};

/// A running Redis of either kind; dropped at the end of the test.
pub enum Backend {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    pub fn single() -> Self {
        Backend::Single(RedisServer::start())
    }

    pub fn cluster() -> Self {
        Backend::Cluster(RedisCluster::start())
    }

    pub fn url(&self) -> String {
        match self {
            Backend::Single(s) => s.url(),
            Backend::Cluster(c) => c.url(),
        }
    }

    /// SIGKILLs every server process.
    pub fn kill(&mut self) {
        match self {
            Backend::Single(s) => s.kill(),
            Backend::Cluster(c) => c.kill(),
        }
    }

    /// Starts the servers again on the same ports and data dirs.
    pub fn restart(&mut self) {
        match self {
            Backend::Single(s) => s.restart(),
            Backend::Cluster(c) => c.restart(),
        }
    }
}

/// Generates `mod <scenario> { standalone, cluster }` tests that run
/// `<scenario>(url)` against each backend.
#[macro_export]
macro_rules! both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn standalone() {
                let backend = $crate::backends::Backend::single();
                super::$scenario(backend.url()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cluster() {
                let backend = $crate::backends::Backend::cluster();
                super::$scenario(backend.url()).await;
            }
        }
    )*};
}

/// A plain connection for planting data behind the broker's back.
pub enum Raw {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    pub async fn open(url: &str) -> Self {
        match url.strip_suffix("?cluster=true") {
            Some(node) => {
                let client = redis::cluster::ClusterClient::new(vec![node]).unwrap();
                Raw::Cluster(client.get_async_connection().await.unwrap())
            }
            None => {
                let client = redis::Client::open(url).unwrap();
                Raw::Single(client.get_multiplexed_async_connection().await.unwrap())
            }
        }
    }

    /// Runs one command and returns its reply.
    pub async fn run<T: redis::FromRedisValue>(&mut self, args: &[&str]) -> T {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match self {
            Raw::Single(c) => cmd.query_async(c).await.unwrap(),
            Raw::Cluster(c) => cmd.query_async(c).await.unwrap(),
        }
    }
}
