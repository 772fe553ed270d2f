//! The HTTP side of a host: a JSON API, the live dashboard, Prometheus
//! metrics and health probes, on one listener.
//!
//! Everything here reads and changes the queue only through the broker's
//! [`Client`] (and, for `/api/v1/plugins`, the host's plugin [`Registry`]),
//! so the API shows exactly what `wasmq` commands show and can run in any
//! process that has a `Client`: inside `wasmq run`, or on its own.
//!
//! | file | role |
//! |---|---|
//! | `routes/` | handlers and the route table |
//! | `dto/` | request and response bodies (with their OpenAPI schemas) |
//! | `extract.rs` | JSON, query and path extractors with JSON errors |
//! | `guard.rs` | Host, Origin and content-type checks against other web pages |
//! | `security.rs` | the loopback/token rule and bearer-token checks |
//! | `metrics.rs` | the Prometheus recorder and HTTP metrics |
//! | `openapi.rs` | the generated OpenAPI document |
//! | `dashboard.rs`, `assets/` | the embedded dashboard |
//! | `error.rs` | [`HttpError`] (start-up) and [`ApiError`] (per request) |
//!
//! Wiring, for the daemon:
//!
//! ```no_run
//! # async fn wire(client: wasmq::Client, registry: wasmq::plugins::Registry) -> Result<(), wasmq::http::HttpError> {
//! use tokio_util::sync::CancellationToken;
//! let token = std::env::var("WASMQ_HTTP_TOKEN").ok();
//! let listener = wasmq::http::bind("127.0.0.1:7070".parse().unwrap(), token.as_deref()).await?;
//! let state = wasmq::http::HttpState::new(client, Some(registry), token)?
//!     .allow_hosts(vec!["queue.example.com".parse().unwrap()]);
//! let shutdown = CancellationToken::new();
//! tokio::spawn(wasmq::http::serve(listener, state, shutdown.clone()));
//! // ... on shutdown: shutdown.cancel();
//! # Ok(()) }
//! ```

mod dashboard;
mod dto;
mod enqueue_limit;
mod error;
mod extract;
mod guard;
pub mod metrics;
mod openapi;
mod routes;
mod security;

pub use error::{ApiError, ApiResult, ErrorBody, HttpError};
pub use extract::MAX_BODY_BYTES;
pub use guard::{LocalAddr, REQUEST_HEADER};
pub use openapi::ApiDoc;
pub use routes::live::MAX_STREAMS;
pub use security::{MIN_TOKEN_LEN, bind, check_bind, tokens_match, validate_token};

use crate::broker::Client;
use crate::config::AllowedHost;
use crate::plugins::Registry;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    /// The broker, for every queue read and change.
    pub client: Client,
    /// The host's plugins; `None` when the API runs without a plugin
    /// directory (then `/api/v1/plugins` says so and `/readyz` skips it).
    pub registry: Option<Registry>,
    /// The bearer token mutating requests must carry, if any.
    pub token: Option<Arc<str>>,
    /// Names the server answers to besides its own address.
    allowed_hosts: Arc<[AllowedHost]>,
    /// Whether reads of queue data need the token too.
    protect_reads: bool,
    /// Enqueue rate limit per client, if any (`--http-enqueue-rate`).
    enqueue_limit: Option<Arc<crate::ratelimit::KeyedLimiter>>,
    metrics: PrometheusHandle,
    started: Instant,
    /// Cancelled at shutdown: ends live streams (SSE), which would
    /// otherwise hold a graceful shutdown open forever.
    pub(crate) stop: CancellationToken,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("client", &self.client)
            .field("registry", &self.registry.is_some())
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("allowed_hosts", &self.allowed_hosts)
            .field("protect_reads", &self.protect_reads)
            .finish_non_exhaustive()
    }
}

impl HttpState {
    /// The state of a server. Validates the token (see [`validate_token`])
    /// and installs the process's Prometheus recorder if none is yet.
    pub fn new(
        client: Client,
        registry: Option<Registry>,
        token: Option<String>,
    ) -> Result<Self, HttpError> {
        if let Some(token) = &token {
            validate_token(token)?;
        }
        Ok(Self {
            client,
            registry,
            token: token.map(Arc::from),
            allowed_hosts: Arc::from([]),
            protect_reads: false,
            enqueue_limit: None,
            metrics: metrics::install()?,
            started: Instant::now(),
            stop: CancellationToken::new(),
        })
    }

    /// Also answers to these names (`--http-allowed-host`); without them the
    /// server answers only to the address a client connected to, and to
    /// `localhost` on loopback.
    pub fn allow_hosts(mut self, hosts: Vec<AllowedHost>) -> Self {
        self.allowed_hosts = hosts.into();
        self
    }

    /// Limits enqueues to `rate` per client (bearer token, else IP) with
    /// `burst` at once; over it, 429 with `Retry-After`.
    pub fn limit_enqueues(mut self, rate: crate::ratelimit::Rate, burst: u64) -> Self {
        self.enqueue_limit = Some(enqueue_limit::limiter(rate, burst.max(1)));
        self
    }

    /// Requires the token for reads of queue data too
    /// (`--http-protect-reads`); refused without a token.
    pub fn protect_reads(mut self, protect: bool) -> Result<Self, HttpError> {
        if protect && self.token.is_none() {
            return Err(HttpError::ProtectReadsWithoutToken);
        }
        self.protect_reads = protect;
        Ok(self)
    }
}

/// The full application: routes, the checks against other web pages, the
/// token check, body limit, metrics, tracing.
///
/// Serve it with `into_make_service_with_connect_info::<`[`LocalAddr`]`>()`
/// (as [`serve`] does): the Host check needs each connection's address, and
/// without it only the [`HttpState::allow_hosts`] names are answered.
pub fn router(state: HttpState) -> Router {
    routes::table()
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            enqueue_limit::limit_enqueues,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; see /api/v1/openapi.json",
    )
}

/// Serves the API, dashboard and metrics on `listener` until `shutdown` is
/// cancelled, then stops accepting and lets in-flight requests finish.
///
/// Get the listener from [`bind`], which enforces the loopback/token rule.
/// The daemon (`wasmq run --http ADDR`) calls, with its own `Client`, its
/// plugin `Registry` and `WASMQ_HTTP_TOKEN`:
///
/// ```text
/// let listener = http::bind(addr, token.as_deref()).await?;
/// let state = http::HttpState::new(client.clone(), Some(registry.clone()), token)?;
/// tokio::spawn(http::serve(listener, state, shutdown.clone()));
/// ```
///
/// [`HttpState::new`] also installs the Prometheus recorder; call
/// [`metrics::install`] earlier at start-up so task metrics recorded before
/// the server starts are kept.
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) -> Result<(), HttpError> {
    let addr = listener.local_addr().map_err(HttpError::Serve)?;
    let allowed: Vec<String> = state.allowed_hosts.iter().map(|h| h.to_string()).collect();
    tracing::info!(%addr, auth = state.token.is_some(), protect_reads = state.protect_reads,
        allowed_hosts = allowed.join(","), "HTTP API and dashboard listening");
    let stop_upkeep = shutdown.child_token();
    let upkeep = tokio::spawn(upkeep(state.metrics.clone(), stop_upkeep.clone()));
    let state = HttpState {
        stop: shutdown.clone(),
        ..state
    };
    let app = router(state).into_make_service_with_connect_info::<LocalAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(HttpError::Serve);
    stop_upkeep.cancel();
    let _ = upkeep.await;
    tracing::info!(%addr, "HTTP server stopped");
    served
}

/// Folds histogram samples into buckets now and then, so memory stays flat
/// even if nobody scrapes.
async fn upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(metrics::UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}
