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
use axum::handler::Handler;
use axum::http::Method;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter, on};
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
    let mut api = Router::new();
    for Route { path, endpoints } in routes() {
        let methods = endpoints
            .into_iter()
            .fold(MethodRouter::new(), |methods, (_, endpoint)| {
                methods.merge(endpoint)
            });
        api = api.route(path, methods);
    }
    let api = api
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

/// One path of the REST API and what answers each method on it.
struct Route {
    path: &'static str,
    endpoints: Vec<(Method, MethodRouter<Engine>)>,
}

/// `handler` answering `method`; the method is named once, for the router and for the check
/// against the OpenAPI document.
fn endpoint<H, T>(method: Method, handler: H) -> (Method, MethodRouter<Engine>)
where
    H: Handler<T, Engine>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    (method, on(filter, handler))
}

/// Every route of the REST API (the web UI's pages and assets are `ui.rs`'s). A test checks
/// this table against `openapi.json` both ways.
fn routes() -> Vec<Route> {
    use Method as M;
    let route = |path, endpoints| Route { path, endpoints };
    vec![
        route("/healthz", vec![endpoint(M::GET, health)]),
        route("/metrics", vec![endpoint(M::GET, analytics::metrics)]),
        route("/api/v1/openapi.json", vec![endpoint(M::GET, openapi)]),
        route(
            "/api/v1/executions",
            vec![endpoint(M::GET, executions::list)],
        ),
        route(
            "/api/v1/executions/bulk",
            vec![endpoint(M::POST, bulk::bulk)],
        ),
        route(
            "/api/v1/executions-count",
            vec![endpoint(M::GET, interact::count)],
        ),
        route(
            "/api/v1/executions/{workflow_id}",
            vec![endpoint(M::GET, executions::get)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/history",
            vec![endpoint(M::GET, executions::history)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/logs",
            vec![endpoint(M::GET, logs::get), endpoint(M::POST, logs::append)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/stream",
            vec![endpoint(M::GET, streams::execution)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/cancel",
            vec![endpoint(M::POST, executions::cancel)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/terminate",
            vec![endpoint(M::POST, executions::terminate)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/signal",
            vec![endpoint(M::POST, executions::signal)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/query",
            vec![endpoint(M::POST, interact::query)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/update",
            vec![endpoint(M::POST, interact::update)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/reset",
            vec![endpoint(M::POST, executions::reset)],
        ),
        route(
            "/api/v1/stream/executions",
            vec![endpoint(M::GET, streams::executions)],
        ),
        route("/api/v1/task-queues", vec![endpoint(M::GET, queues::list)]),
        route(
            "/api/v1/task-queues/{name}",
            vec![endpoint(M::GET, queues::describe)],
        ),
        route("/api/v1/workers", vec![endpoint(M::GET, queues::workers)]),
        route(
            "/api/v1/namespaces",
            vec![
                endpoint(M::GET, queues::namespaces),
                endpoint(M::POST, queues::create_namespace),
            ],
        ),
        route(
            "/api/v1/analytics",
            vec![endpoint(M::GET, analytics::analytics)],
        ),
        route("/api/v1/schedules", vec![endpoint(M::GET, schedules::list)]),
        route(
            "/api/v1/schedules/{schedule_id}",
            vec![
                endpoint(M::GET, schedules::get),
                endpoint(M::DELETE, schedules::delete),
            ],
        ),
        route(
            "/api/v1/schedules/{schedule_id}/{action}",
            vec![endpoint(M::POST, schedules::act)],
        ),
        route(
            "/api/v1/plans",
            vec![
                endpoint(M::GET, plans::list),
                endpoint(M::POST, plans::create),
            ],
        ),
        route(
            "/api/v1/plans/{plan_id}",
            vec![
                endpoint(M::GET, plans::get),
                endpoint(M::PATCH, plans::edit),
                endpoint(M::DELETE, plans::delete),
            ],
        ),
        route(
            "/api/v1/plans/{plan_id}/start",
            vec![endpoint(M::POST, plans::start)],
        ),
    ]
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every route is documented and every documented route is routed, with its methods.
    #[test]
    fn the_openapi_document_names_exactly_the_routes_served() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, operations)| {
                operations
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|key| *key != "parameters")
                    .map(move |method| (path.clone(), method.to_ascii_uppercase()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = routes()
            .into_iter()
            .flat_map(|route| {
                route
                    .endpoints
                    .into_iter()
                    .map(move |(method, _)| (route.path.to_owned(), method.to_string()))
            })
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "served but not in openapi.json: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "in openapi.json but not served: {unserved:?}"
        );
    }
}
