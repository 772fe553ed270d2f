//! Errors of the HTTP layer.
//!
//! Two kinds, because they reach two different people. [`HttpError`] stops
//! the server from starting or serving and goes to the operator through the
//! command line. [`ApiError`] is one refused request and goes back to the
//! caller as JSON, `{"error": "..."}`, with a status that says whose fault it
//! was: 4xx for bad input (never 500), 503 while Redis is unreachable, and
//! 500 only for what the caller cannot fix.

use crate::broker::BrokerError;
use crate::error::ValidationError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::net::SocketAddr;
use thiserror::Error;
use utoipa::ToSchema;

/// Why the HTTP server could not start or stopped serving.
#[derive(Debug, Error)]
pub enum HttpError {
    /// A non-loopback address without a token would expose every mutating
    /// endpoint to the network.
    #[error(
        "refusing to serve the HTTP API on {addr}, which is not a loopback address, without a \
         token: set WASMQ_HTTP_TOKEN (or --http-token) to a secret that clients send as \
         `Authorization: Bearer <token>`, or bind 127.0.0.1"
    )]
    TokenRequired {
        /// The address that was asked for.
        addr: SocketAddr,
    },

    /// A token that is set but unusable.
    #[error("the HTTP token is {reason}; use at least 16 printable ASCII characters")]
    BadToken {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Protecting reads without a token would lock everyone out.
    #[error(
        "reads can only be protected with a token: set WASMQ_HTTP_TOKEN (or --http-token), or \
         turn http_protect_reads off"
    )]
    ProtectReadsWithoutToken,

    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}; is another process using the port?")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The server failed while serving.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),

    /// The Prometheus recorder could not be installed.
    #[error(
        "cannot install the Prometheus metrics recorder: {0}; another metrics recorder is \
         already installed in this process"
    )]
    Metrics(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, where, and what to do about it.
    pub error: String,
}

/// A refused request: a status and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, where, and what to do about it.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: the thing asked for does not exist (or no longer does).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request is valid but conflicts with the thing's state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 503: a dependency (Redis) cannot be reached.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let status = match e.root() {
            ValidationError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, e.to_string())
    }
}

impl From<BrokerError> for ApiError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::Invalid(v) => v.into(),
            e if e.is_connection() => Self::unavailable(format!(
                "Redis is unreachable ({e}); the request was not carried out, retry once Redis \
                 is back"
            )),
            e => {
                tracing::error!(error = %e, "broker failure behind an HTTP request");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
