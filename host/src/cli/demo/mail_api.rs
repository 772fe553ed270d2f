//! The demo's mail API: what the `email` plugin sends to in
//! `wasmq dev --demo` and in the tests, a small stand-in for a provider
//! such as Mailgun or Postmark, served for real on loopback.
//!
//! `POST /v1/messages` with `authorization: Bearer <token>` and a JSON body
//! `{"to", "subject", "body", "message_id"}` answers `202 {"id": "msg-N"}`.
//! It behaves like a provider where it matters to a queue:
//!
//! - a wrong or missing token is `401`, a malformed body `422`;
//! - the `idempotency-key` header makes a resent message a replay: the
//!   same id is answered and nothing is sent twice, so a task retried after
//!   a lost reply does not mail twice;
//! - with `busy_every` (see [`MailApi::start`]), the first attempt of every Nth message is
//!   `503` with `retry-after: 1`, so the demo shows real retries.
//!
//! [`MailApi::sent`] lists what was accepted, for the demo's progress and
//! for tests.

use super::server::LoopbackServer;
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The path messages are posted to.
pub const MESSAGES_PATH: &str = "/v1/messages";
/// Largest request body accepted.
const MAX_BODY: usize = 64 << 10;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SentMail {
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The text.
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Default)]
struct Ledger {
    sent: Vec<SentMail>,
    /// idempotency key -> the id answered.
    ids: HashMap<String, String>,
    /// Keys already answered 503 once.
    refused: HashSet<String>,
    requests: u64,
}

#[derive(Debug)]
struct Shared {
    token: String,
    busy_every: Option<u64>,
    ledger: Mutex<Ledger>,
}

/// A running mail API; it stops when dropped.
#[derive(Debug)]
pub struct MailApi {
    server: LoopbackServer,
    shared: Arc<Shared>,
}

impl MailApi {
    /// Starts the API on a free loopback port, accepting `token`; with
    /// `busy_every = Some(n)`, the first attempt of every nth message is
    /// answered `503`.
    pub fn start(token: &str, busy_every: Option<u64>) -> std::io::Result<MailApi> {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            busy_every: busy_every.filter(|&n| n > 0),
            ledger: Mutex::default(),
        });
        let router = axum::Router::new()
            .route(MESSAGES_PATH, post(accept))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(Arc::clone(&shared));
        let server = LoopbackServer::start("demo-mail-api", router)?;
        Ok(MailApi { server, shared })
    }

    /// The origin to grant: `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// The URL messages are posted to: the `mail_api` config value.
    pub fn messages_url(&self) -> String {
        format!("{}{MESSAGES_PATH}", self.origin())
    }

    /// The messages accepted so far, each once.
    pub fn sent(&self) -> Vec<SentMail> {
        self.ledger().sent.clone()
    }

    /// Every request received, answered or refused.
    pub fn requests(&self) -> u64 {
        self.ledger().requests
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.shared.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn accept(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut ledger = shared.ledger.lock().unwrap_or_else(|e| e.into_inner());
    ledger.requests += 1;
    // The credentials first, as a provider does: nothing else is looked at
    // for a caller that is not authenticated.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(shared.token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let mail: SentMail = match serde_json::from_slice(&body) {
        Ok(mail) => mail,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("bad message: {e}"),
            );
        }
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = key.as_ref().and_then(|k| ledger.ids.get(k)) {
        return (StatusCode::OK, Json(serde_json::json!({ "id": id }))).into_response();
    }
    let nth = ledger.sent.len() as u64 + 1;
    if let (Some(every), Some(key)) = (shared.busy_every, &key)
        && nth.is_multiple_of(every)
        && ledger.refused.insert(key.clone())
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(serde_json::json!({ "error": "busy, try again shortly" })),
        )
            .into_response();
    }
    let id = format!("msg-{nth}");
    ledger.sent.push(mail);
    if let Some(key) = key {
        ledger.ids.insert(key, id.clone());
    }
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
