//! Keel's HTTP frontend: the REST API under `/api/v1` (docs/rest-api.md, and the OpenAPI
//! document it serves), live streams as server-sent events, Prometheus `/metrics` and
//! `/healthz`, and the web UI (`ui/`, embedded in the binary) that is a client of them.
//!
//! It only translates: requests are read strictly (unknown parameters and fields are
//! refused, with a message naming them), turned into engine calls, and answered as JSON.
//! No rule about executions lives here; payloads and histories are rendered by
//! `keel_wire::json`, which owns Temporal's wire format. Start reading at [`router`].

mod analytics;
mod bulk;
mod error;
mod executions;
mod guard;
mod interact;
mod logs;
mod payloads;
mod plans;
mod queues;
mod render;
mod request;
mod schedules;
mod streams;
mod ui;

use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use keel_engine::Engine;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use guard::{Access, host_name};

/// The largest request body taken: a payload at its limit, with room for the JSON around it.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The OpenAPI document of the REST API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(engine: Engine, access: Access) -> Router {
    let api = Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(analytics::metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/executions", get(executions::list))
        .route("/api/v1/executions/bulk", post(bulk::bulk))
        .route("/api/v1/executions-count", get(interact::count))
        .route("/api/v1/executions/{workflow_id}", get(executions::get))
        .route(
            "/api/v1/executions/{workflow_id}/history",
            get(executions::history),
        )
        .route(
            "/api/v1/executions/{workflow_id}/logs",
            get(logs::get).post(logs::append),
        )
        .route(
            "/api/v1/executions/{workflow_id}/stream",
            get(streams::execution),
        )
        .route(
            "/api/v1/executions/{workflow_id}/cancel",
            post(executions::cancel),
        )
        .route(
            "/api/v1/executions/{workflow_id}/terminate",
            post(executions::terminate),
        )
        .route(
            "/api/v1/executions/{workflow_id}/signal",
            post(executions::signal),
        )
        .route(
            "/api/v1/executions/{workflow_id}/query",
            post(interact::query),
        )
        .route(
            "/api/v1/executions/{workflow_id}/update",
            post(interact::update),
        )
        .route(
            "/api/v1/executions/{workflow_id}/reset",
            post(executions::reset),
        )
        .route("/api/v1/stream/executions", get(streams::executions))
        .route("/api/v1/task-queues", get(queues::list))
        .route("/api/v1/task-queues/{name}", get(queues::describe))
        .route("/api/v1/workers", get(queues::workers))
        .route(
            "/api/v1/namespaces",
            get(queues::namespaces).post(queues::create_namespace),
        )
        .route("/api/v1/analytics", get(analytics::analytics))
        .route("/api/v1/schedules", get(schedules::list))
        .route(
            "/api/v1/schedules/{schedule_id}",
            get(schedules::get).delete(schedules::delete),
        )
        .route(
            "/api/v1/schedules/{schedule_id}/{action}",
            post(schedules::act),
        )
        .route("/api/v1/plans", get(plans::list).post(plans::create))
        .route(
            "/api/v1/plans/{plan_id}",
            get(plans::get).patch(plans::edit).delete(plans::delete),
        )
        .route("/api/v1/plans/{plan_id}/start", post(plans::start))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(engine);
    ui::routes()
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(access),
            guard::guard,
        ))
}

async fn health(axum::extract::State(engine): axum::extract::State<Engine>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "namespaces": engine.namespaces().len(),
    }))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}

/// Serves HTTP on `listener` until `shutdown` resolves.
pub async fn serve(
    engine: Engine,
    listener: TcpListener,
    access: Access,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine, access))
        .with_graceful_shutdown(shutdown)
        .await
}
