//! Request handlers, one file per resource, and the route table.
//!
//! Handlers stay thin: parse and validate (through the `extract` wrappers
//! and the DTOs), call one [`Client`](crate::Client) or registry method,
//! convert the answer. Anything smarter belongs in the broker, where the CLI
//! gets it too.

pub mod browse;
pub mod costs;
pub mod flows;
pub mod limits;
pub mod live;
pub mod queues;
pub mod schedules;
pub mod system;
pub mod tasks;

use super::HttpState;
use super::dashboard;
use super::openapi;
use axum::Router;
use axum::routing::{delete, get, post};

/// Every route, without middleware (see [`super::router`]).
pub fn table() -> Router<HttpState> {
    let api = Router::new()
        .route("/tasks", post(tasks::enqueue))
        .route("/tasks/batch", post(tasks::enqueue_batch))
        .route("/tasks/{id}", get(tasks::status).delete(tasks::delete))
        .route("/tasks/{id}/result", get(tasks::result))
        .route("/tasks/{id}/runs", get(tasks::runs))
        .route("/tasks/{id}/cancel", post(tasks::cancel))
        .route("/flows", post(flows::enqueue))
        .route("/flows/{id}", get(flows::status))
        .route("/queues", get(queues::list))
        .route("/queues/{queue}", delete(queues::remove))
        .route("/queues/{queue}/tasks", get(browse::list))
        .route("/queues/{queue}/tasks/actions", post(browse::act))
        .route("/queues/{queue}/pause", post(queues::pause))
        .route("/queues/{queue}/resume", post(queues::resume))
        .route(
            "/queues/{queue}/limits",
            get(limits::get).put(limits::put).delete(limits::delete),
        )
        .route("/dead", get(queues::list_dead))
        .route("/dead/retry", post(queues::retry_dead))
        .route("/dead/purge", post(queues::purge_dead))
        .route("/schedules", get(schedules::list).post(schedules::add))
        .route("/schedules/{name}", delete(schedules::remove))
        .route("/schedules/{name}/pause", post(schedules::pause))
        .route("/schedules/{name}/resume", post(schedules::resume))
        .route("/hosts", get(system::hosts))
        .route("/plugins", get(system::plugins))
        .route("/stats", get(system::stats))
        .route("/costs", get(costs::list))
        .route("/stats/throughput", get(system::throughput))
        .route("/stats/throughput/stream", get(live::throughput_stream))
        .route("/info", get(system::info))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .nest("/api/v1", api)
        .route("/", get(dashboard::index))
        .route("/assets/app.js", get(dashboard::script))
        .route("/assets/flows.js", get(dashboard::flows_script))
        .route("/assets/tasks.js", get(dashboard::tasks_script))
        .route("/assets/detail.js", get(dashboard::detail_script))
        .route("/assets/costs.js", get(dashboard::costs_script))
        .route("/assets/app.css", get(dashboard::stylesheet))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .fallback(system::fallback)
}
