//! The OpenAPI 3.1 document, generated from the handlers and DTOs.
//!
//! Each handler carries a `#[utoipa::path]` and each body type derives
//! `ToSchema`, so the document is rebuilt from the code on every build; a
//! test checks that every route in the router table appears here. The
//! rules every request is held to (the Host, Origin and content-type checks
//! of `guard.rs`, and the token for protected reads) are added to every
//! operation by [`RequestRules`], so no handler can forget them.

use super::dto;
use super::error::ErrorBody;
use super::routes::{browse, costs, flows, limits, live, queues, schedules, system, tasks};
use super::security::is_public;
use axum::Json;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The API description served at `/api/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wasmq",
        description = "Enqueue and inspect tasks, administer queues and the dead-letter set, \
                       and watch hosts and plugins. POST and DELETE need \
                       `Authorization: Bearer <token>` when the server has a token, and \
                       `Content-Type: application/json` or `X-Wasmq-Request: 1` always \
                       (so that other web pages cannot post forms to the API). With \
                       `--http-protect-reads`, reads of queue data need the token too. \
                       Requests whose `Host` or `Origin` is not this server (or a name \
                       given with `--http-allowed-host`) get 403.",
    ),
    paths(
        tasks::enqueue, tasks::enqueue_batch, tasks::status, tasks::result, tasks::runs, tasks::cancel,
        tasks::delete,
        flows::enqueue, flows::status,
        queues::list, queues::remove, queues::pause, queues::resume, queues::list_dead,
        queues::retry_dead, queues::purge_dead, browse::list, browse::act, limits::get, limits::put, limits::delete,
        schedules::list, schedules::add, schedules::remove, schedules::pause, schedules::resume,
        system::info, system::hosts, system::plugins, system::stats, system::throughput,
        live::throughput_stream, costs::list,
        system::healthz, system::readyz,
    ),
    components(schemas(ErrorBody, dto::UniqueRequest)),
    modifiers(&BearerScheme, &RequestRules),
    tags(
        (name = "tasks", description = "Enqueue, look up, fetch results, cancel"),
        (name = "queues", description = "Queue sizes, pausing and removing"),
        (name = "dead", description = "The dead-letter set"),
        (name = "schedules", description = "Cron schedules that enqueue tasks"),
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

/// Adds the responses and headers that the middleware, not the handlers,
/// produce: 403 for a foreign Host or Origin everywhere; for changes, the
/// `X-Wasmq-Request` header and 415; for reads of queue data, 401 (when
/// reads are protected).
struct RequestRules;

impl Modify for RequestRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let reads = [&mut item.get];
            for operation in reads.into_iter().flatten() {
                add_response(operation, "403", error("Host or Origin is not this server"));
                if !is_public(path) {
                    add_response(
                        operation,
                        "401",
                        error("Reads are protected and the token is missing or wrong"),
                    );
                }
            }
            let changes = [
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ];
            for operation in changes.into_iter().flatten() {
                add_response(operation, "403", error("Host or Origin is not this server"));
                add_response(
                    operation,
                    "415",
                    error(
                        "Neither `Content-Type: application/json` nor `X-Wasmq-Request` was sent",
                    ),
                );
                operation.parameters.get_or_insert_with(Vec::new).push(
                    ParameterBuilder::new()
                        .name("X-Wasmq-Request")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some(
                            "Send `1` when the request has no JSON body: a change needs this \
                             header or `Content-Type: application/json`",
                        ))
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::Type::String),
                        ))
                        .build(),
                );
            }
        }
    }
}

fn add_response(operation: &mut Operation, status: &str, response: utoipa::openapi::Response) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| response.into());
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
            "/api/v1/tasks/{id}/runs",
            "/api/v1/tasks/{id}/cancel",
            "/api/v1/queues",
            "/api/v1/queues/{queue}/pause",
            "/api/v1/queues/{queue}/resume",
            "/api/v1/queues/{queue}/tasks",
            "/api/v1/queues/{queue}/tasks/actions",
            "/api/v1/dead",
            "/api/v1/dead/retry",
            "/api/v1/dead/purge",
            "/api/v1/hosts",
            "/api/v1/plugins",
            "/api/v1/stats",
            "/api/v1/stats/throughput",
            "/api/v1/stats/throughput/stream",
            "/api/v1/costs",
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
        let pause = &json["paths"]["/api/v1/queues/{queue}/pause"]["post"];
        assert!(pause["responses"]["415"].is_object(), "{pause}");
        assert!(pause["responses"]["403"].is_object(), "{pause}");
        assert!(
            pause["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "X-Wasmq-Request" && p["in"] == "header"),
            "{pause}"
        );
        let result = &json["paths"]["/api/v1/tasks/{id}/result"]["get"];
        assert!(result["responses"]["401"].is_object(), "{result}");
        assert!(json["paths"]["/healthz"]["get"]["responses"]["401"].is_null());
    }
}
