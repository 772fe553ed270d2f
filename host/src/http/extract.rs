//! Extractors whose rejections are JSON errors the caller can act on.
//!
//! axum's own `Json`, `Query` and `Path` reject bad input with plain-text
//! bodies; API clients (and the dashboard) expect every error as
//! `{"error": "..."}`, and a message that says which field was wrong and what
//! to send instead. These thin wrappers keep axum's parsing and rewrite only
//! the rejection.

use super::error::ApiError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::fmt::Display;

/// Largest accepted request body, in bytes (2 MiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A JSON request body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON: send it with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(format!(
            "the request body is not valid JSON ({detail}); check quotes, commas and brackets"
        )),
        JsonRejection::JsonDataError(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the request body does not have the expected fields ({detail}); see \
                 /api/v1/openapi.json for the schema"
            ),
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than the limit of {} MiB; split a batch into \
                     smaller requests or store large payloads elsewhere",
                    MAX_BODY_BYTES / (1024 * 1024)
                ),
            )
        }
        other => ApiError::new(
            other.status(),
            format!("the request body could not be read: {detail}"),
        ),
    }
}

/// A query string.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::bad_request(format!(
                    "bad query string ({}); see /api/v1/openapi.json for the parameters",
                    r.body_text()
                ))
            })
    }
}

/// Path parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|r: PathRejection| {
                ApiError::bad_request(format!("bad path parameter: {}", r.body_text()))
            })
    }
}

/// Checks that the query parameter `name` is in `1..=max`, with the message
/// the API gives for any out-of-range numeric parameter.
pub fn param_in_range<N>(name: &str, value: N, max: N) -> Result<N, ApiError>
where
    N: Copy + PartialOrd + Display + From<u8>,
{
    if (N::from(1)..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!(
            "query parameter `{name}`: {value} is not in 1..={max}"
        )))
    }
}
