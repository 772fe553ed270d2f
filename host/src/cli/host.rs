//! One host, wired: plugins, Redis, worker, HTTP. Used by `wasmq run`,
//! `wasmq dev`, the benchmark and the tests (which embed hosts in-process).
//!
//! Start-up is split from running so a caller can learn what it started
//! (the HTTP address when the port was 0, the broker client for enqueueing)
//! before handing over control. Everything that can be checked is checked
//! in [`Host::start`], in the order that gives the most useful error first:
//! settings, plugins directory, Redis, the plugins pushed to Redis (a type
//! both pushed and in the directory stops the start), HTTP address. A host
//! with no working plugin still starts (it serves plugins as they are added
//! or pushed) but says so.

use crate::broker::{BrokerOptions, Client, mask_password};
use crate::config::{Limits, RunConfig};
use crate::plugins::{PluginDir, Registry, spawn_watcher};
use crate::runtime::{MAX_INSTANCES, Runtime, RuntimeOptions};
use crate::task::RetryPolicy;
use crate::worker::{self, PushedPlugins, WorkerConfig, WorkerReport};
use anyhow::Context;
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// What a host did, returned when it stops.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The host's id in the host registry.
    pub host_id: String,
    /// The worker's counters.
    pub worker: WorkerReport,
}

/// A started host: plugins loaded, Redis connected, HTTP bound.
#[derive(Debug)]
pub struct Host {
    config: RunConfig,
    client: Client,
    registry: Registry,
    plugins: PluginDir,
    pushed: PushedPlugins,
    http: Option<TcpListener>,
}

impl Host {
    /// Checks the settings, loads the plugins, connects to Redis and binds
    /// the HTTP address (if any).
    pub async fn start(config: RunConfig) -> anyhow::Result<Host> {
        config.validate().context("invalid host settings")?;
        if config.http.is_some() {
            // Before anything records a metric, so none is lost.
            crate::http::metrics::install().context("cannot install the Prometheus recorder")?;
        }
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: config.cache_dir.clone(),
            // Every executor runs one instance; a few spare slots cover runs
            // that are still stopping after a forced shutdown.
            max_instances: u32::try_from(config.concurrency + 8)
                .unwrap_or(u32::MAX)
                .min(MAX_INSTANCES),
            ..RuntimeOptions::default()
        })
        .context("cannot start the WebAssembly runtime")?;
        let plugins = PluginDir::open(&config.plugins_dir, runtime.clone(), Limits::default())?
            .with_grants(config.extra_grants.clone());
        let registry = Registry::new();
        // Plugins before Redis: a broken plugin shows up even while Redis is down.
        let scan = plugins.scan(&registry).await.with_context(|| {
            format!(
                "cannot read the plugins directory {}",
                config.plugins_dir.display()
            )
        })?;
        for (task_type, error) in &scan.failed {
            warn!(task_type, %error, "plugin not loaded");
        }
        let client = Client::connect(&config.redis_url, broker_options(&config))
            .await
            .with_context(|| {
                format!(
                    "cannot connect to Redis at {}",
                    mask_password(&config.redis_url)
                )
            })?;
        // Plugins' key-value buckets live in the same Redis.
        runtime.attach_kv(std::sync::Arc::new(crate::worker::RedisKv::new(
            client.clone(),
        )));
        // After the directory: a type both on disk and pushed refuses to start, naming both.
        let mut pushed = PushedPlugins::new(client.clone(), plugins.clone(), registry.clone());
        pushed.start().await?;
        if registry.types().is_empty() {
            warn!(dir = %config.plugins_dir.display(),
                "no working plugin: nothing to serve until a <type>.wasm is added to the plugins directory or pushed with `wasmq plugins push`");
        }
        // Bound here, served in `run`: the caller learns the address (port 0) before serving.
        let http = match config.http {
            Some(addr) => Some(
                crate::http::bind(addr, config.http_token.as_ref().map(|t| t.0.as_str()))
                    .await
                    .with_context(|| format!("cannot serve HTTP on {addr}"))?,
            ),
            None => None,
        };
        Ok(Host {
            config,
            client,
            registry,
            plugins,
            pushed,
            http,
        })
    }

    /// The address the HTTP API listens on (useful with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The host's broker client (clones share its connection).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The host's plugin registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Serves until `shutdown` resolves, then drains and reports. The
    /// plugins directory is watched and the HTTP API served meanwhile; both
    /// stop after the worker has drained, so the drain can be watched.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<RunReport> {
        let stop = CancellationToken::new();
        // The watcher before the worker: a plugin copied in from now on is served.
        let watcher = spawn_watcher(self.registry.clone(), self.plugins.clone(), stop.clone())
            .context("cannot watch the plugins directory")?;
        let pushed = self.pushed.spawn(stop.clone());
        let http = match self.http {
            Some(listener) => {
                let token = self.config.http_token.as_ref().map(|t| t.0.clone());
                let state = crate::http::HttpState::new(
                    self.client.clone(),
                    Some(self.registry.clone()),
                    token,
                )
                .and_then(|state| {
                    state
                        .allow_hosts(self.config.http_allowed_hosts.clone())
                        .protect_reads(self.config.http_protect_reads)
                })
                .map(|state| match self.config.http_enqueue_rate {
                    Some(rate) => {
                        state.limit_enqueues(rate, self.config.http_enqueue_burst.unwrap_or(1))
                    }
                    None => state,
                })
                .context("cannot start the HTTP API")?;
                Some(tokio::spawn(crate::http::serve(
                    listener,
                    state,
                    stop.clone(),
                )))
            }
            None => None,
        };
        let worker_config = WorkerConfig::from_run_config(&self.config);
        let host_id = worker_config.identity.host_id.clone();
        let draining = CancellationToken::new();
        let worker = worker::run(
            worker_config,
            self.client.clone(),
            self.registry.clone(),
            draining.clone(),
        );
        tokio::pin!(worker);
        tokio::pin!(shutdown);
        // A worker that ends by itself (it failed) ends the host; else shutdown drains it.
        let report = tokio::select! {
            report = &mut worker => report,
            _ = &mut shutdown => {
                draining.cancel();
                worker.await
            }
        };
        // Watcher and HTTP stop only after the drain, so the drain can be watched.
        stop.cancel();
        let _ = watcher.await;
        let _ = pushed.await;
        if let Some(http) = http
            && let Ok(Err(e)) = http.await
        {
            warn!(error = %e, "the HTTP server stopped with an error");
        }
        let worker = report.context("the worker failed")?;
        info!(host_id, ?worker, "host stopped");
        Ok(RunReport { host_id, worker })
    }
}

/// Starts a host with `config` and serves until `shutdown` resolves.
pub async fn run(
    config: RunConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<RunReport> {
    Host::start(config).await?.run(shutdown).await
}

/// The broker settings a host uses.
pub fn broker_options(config: &RunConfig) -> BrokerOptions {
    let defaults = BrokerOptions::default();
    BrokerOptions {
        namespace: config.namespace.clone(),
        lease_duration: config.lease,
        result_ttl: config.result_ttl,
        encryption: config.encryption.clone(),
        durable_replicas: config.durable_enqueue,
        durable_timeout: config.durable_timeout,
        retry: RetryPolicy {
            base: config.backoff_base,
            cap: config.backoff_cap,
            ..defaults.retry
        },
        ..defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_options_follow_the_host_settings() {
        let mut config = RunConfig::new("redis://x", "p");
        config.lease = std::time::Duration::from_secs(7);
        config.namespace = "ns".into();
        config.durable_enqueue = 1;
        let opts = broker_options(&config);
        assert_eq!(opts.lease_duration, config.lease);
        assert_eq!(opts.namespace, "ns");
        assert_eq!(opts.durable_replicas, 1);
        assert_eq!(opts.durable_timeout, config.durable_timeout);
        assert_eq!(opts.retry.base, config.backoff_base);
        opts.validate().unwrap();
    }
}
