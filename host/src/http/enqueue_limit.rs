//! Rate limit on enqueue: 429 with `Retry-After` for a client over its rate.
//!
//! The original design's limit, kept beside the per-queue limits enforced in
//! Redis: it protects the API and Redis from one noisy producer, rather than
//! a downstream service from the workers. It is in process (each HTTP
//! server counts for itself), keyed by the bearer token when the request
//! carries one (a hash of it: the map never holds a secret) and by the
//! client's IP otherwise, so producers behind one NAT with their own tokens
//! are limited apart. Memory is bounded by [`KeyedLimiter`]'s cap on tracked
//! clients. Each enqueue request counts once, whatever its batch size.

use super::HttpState;
use super::error::ApiError;
use super::guard::LocalAddr;
use crate::ratelimit::{KeyedLimiter, MAX_TRACKED_CLIENTS, Rate};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The paths whose POSTs enqueue.
const ENQUEUE_PATHS: [&str; 3] = ["/api/v1/tasks", "/api/v1/tasks/batch", "/api/v1/flows"];

/// A new limiter of `rate` and `burst` per client.
pub(super) fn limiter(rate: Rate, burst: u64) -> Arc<KeyedLimiter> {
    Arc::new(KeyedLimiter::new(rate, burst, MAX_TRACKED_CLIENTS))
}

/// Middleware: refuses enqueues over the client's rate.
pub async fn limit_enqueues(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.enqueue_limit else {
        return next.run(request).await;
    };
    if request.method() != Method::POST || !ENQUEUE_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let key = client_key(&request, state.token.is_some());
    match limiter.check(&key, 1) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            metrics::counter!("wasmq_http_enqueue_limited_total").increment(1);
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many enqueue requests from this client (limit {} per client); retry \
                     after {} ms",
                    limiter.rate(),
                    wait.as_millis().max(1)
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
    }
}

/// `t:<sha256 of the token>` or `ip:<address>` (`ip:?` when unknown). The
/// token is the key only when the server checks tokens (this middleware
/// runs after that check): otherwise anyone could make one up per request
/// and never be limited.
fn client_key(request: &Request, tokens_checked: bool) -> String {
    let bearer = tokens_checked
        .then(|| request.headers().get(header::AUTHORIZATION))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return format!("t:{}", hex::encode(&Sha256::digest(token.as_bytes())[..16]));
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<LocalAddr>>()
        .and_then(|info| info.0.1);
    match peer {
        Some(addr) => format!("ip:{}", addr.ip()),
        None => "ip:?".to_owned(),
    }
}
