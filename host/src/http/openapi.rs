//! The OpenAPI 3.1 document, generated from the handlers and DTOs.
//!
//! Each handler carries a `#[utoipa::path]` and each body type derives
//! `ToSchema`, so the document is rebuilt from the code on every build; a
//! test checks that every route in the router table appears here.

use super::dto;
use super::error::ErrorBody;
use super::routes::{queues, system, tasks};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API description served at `/api/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wasmq",
        description = "Enqueue and inspect tasks, administer queues and the dead-letter set, \
                       and watch hosts and plugins. POST and DELETE need \
                       `Authorization: Bearer <token>` when the server has a token.",
    ),
    paths(
        tasks::enqueue, tasks::enqueue_batch, tasks::status, tasks::result, tasks::cancel,
        tasks::delete,
        queues::list, queues::remove, queues::pause, queues::resume, queues::list_dead,
        queues::retry_dead, queues::purge_dead,
        system::info, system::hosts, system::plugins, system::stats, system::throughput,
        system::healthz, system::readyz,
    ),
    components(schemas(ErrorBody, dto::UniqueRequest)),
    modifiers(&BearerScheme),
    tags(
        (name = "tasks", description = "Enqueue, look up, fetch results, cancel"),
        (name = "queues", description = "Queue sizes, pausing and removing"),
        (name = "dead", description = "The dead-letter set"),
        (name = "system", description = "Hosts, plugins, stats and health"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the mutating paths refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_every_api_path() {
        let doc = ApiDoc::openapi();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        for path in [
            "/api/v1/tasks",
            "/api/v1/tasks/batch",
            "/api/v1/tasks/{id}",
            "/api/v1/tasks/{id}/result",
            "/api/v1/tasks/{id}/cancel",
            "/api/v1/queues",
            "/api/v1/queues/{queue}/pause",
            "/api/v1/queues/{queue}/resume",
            "/api/v1/dead",
            "/api/v1/dead/retry",
            "/api/v1/dead/purge",
            "/api/v1/hosts",
            "/api/v1/plugins",
            "/api/v1/stats",
            "/api/v1/stats/throughput",
            "/api/v1/info",
            "/healthz",
            "/readyz",
        ] {
            assert!(
                paths.iter().any(|p| *p == path),
                "{path} missing from {paths:?}"
            );
        }
        let json = serde_json::to_value(&doc).unwrap();
        assert!(json["components"]["schemas"]["EnqueueRequest"].is_object());
        // Any JSON value, not only objects.
        let payload = &json["components"]["schemas"]["EnqueueRequest"]["properties"]["payload"];
        assert!(payload.get("type").is_none(), "{payload}");
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
    }
}
