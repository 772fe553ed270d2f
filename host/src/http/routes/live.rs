//! `GET /api/v1/stats/throughput/stream`: the throughput chart's data as a
//! Server-Sent Events stream, so the dashboard redraws when tasks finish
//! instead of polling.
//!
//! The stream listens on the completion and failure channels (the same
//! announcements `wasmq tail` reads) and sends a `throughput` event with the
//! body of `GET /api/v1/stats/throughput`: at once, then after each burst of
//! announcements (at most one event per [`MIN_GAP`]), and at least every
//! [`HEARTBEAT`] so the minute axis moves on an idle system. The ids heard
//! in a burst are dropped once its event is sent, so a stream costs the
//! same memory on a busy system as on an idle one. Each stream
//! holds two pub/sub connections, so at most [`MAX_STREAMS`] run at once;
//! all end when the server shuts down.

use super::system::throughput_of;
use crate::broker::Subscription;
use crate::http::HttpState;
use crate::http::dto::ThroughputQuery;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::ApiQuery;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Streams open at once, per server.
pub const MAX_STREAMS: usize = 64;
/// Least time between two events.
pub const MIN_GAP: Duration = Duration::from_secs(1);
/// Most time between two events.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Counts an open stream; uncounts it when dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        let taken = OPEN.fetch_add(1, Ordering::SeqCst);
        if taken >= MAX_STREAMS {
            OPEN.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Live {
    state: HttpState,
    query: Arc<ThroughputQuery>,
    done: Subscription,
    failed: Subscription,
    first: bool,
    _slot: Slot,
}

/// Throughput per minute as a live stream of `throughput` events.
#[utoipa::path(
    get, path = "/api/v1/stats/throughput/stream", tag = "system",
    params(ThroughputQuery),
    responses((status = 200, content_type = "text/event-stream",
               description = "`throughput` events, each a ThroughputResponse"),
              (status = 400, body = ErrorBody), (status = 503, body = ErrorBody))
)]
pub async fn throughput_stream(
    State(state): State<HttpState>,
    ApiQuery(query): ApiQuery<ThroughputQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Bad parameters fail here, as a plain 400, not inside the stream.
    throughput_of(&state, &query).await?;
    let slot = Slot::take().ok_or_else(|| {
        ApiError::unavailable(format!(
            "{MAX_STREAMS} live streams are open already; poll /api/v1/stats/throughput instead"
        ))
    })?;
    let done = state.client.completion_subscription().await?;
    let failed = state.client.failure_subscription().await?;
    let live = Live {
        state,
        query: Arc::new(query),
        done,
        failed,
        first: true,
        _slot: slot,
    };
    let stream = futures::stream::unfold(live, |mut live| async move {
        let stop = live.state.stop.clone();
        if !live.first {
            // Wait for news (or the heartbeat); a subscription whose
            // connection ended ends the stream, and the browser reconnects.
            let ended = tokio::select! {
                _ = stop.cancelled() => return None,
                id = live.done.next() => id.is_none(),
                id = live.failed.next() => id.is_none(),
                _ = tokio::time::sleep(HEARTBEAT) => false,
            };
            if ended {
                return None;
            }
            // Let a burst gather, then drop it: one event covers it all,
            // and nothing piles up behind a busy system.
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = tokio::time::sleep(MIN_GAP) => {}
            }
            live.done.skip_ready();
            live.failed.skip_ready();
        }
        live.first = false;
        let event = match throughput_of(&live.state, &live.query).await {
            Ok(body) => Event::default().event("throughput").json_data(&body),
            Err(e) => Event::default()
                .event("error")
                .json_data(&ErrorBody { error: e.message }),
        };
        let event = event.unwrap_or_else(|_| Event::default().event("error"));
        Some((Ok(event), live))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
