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
pub mod flows;
mod guard;
mod interact;
mod logs;
mod openapi;
mod operations;
mod payloads;
mod plans;
mod queues;
mod render;
mod request;
mod schedules;
mod streams;
mod ui;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter, on};
use keel_engine::Engine;
use request::{NAMESPACE_PARAMS, NO_FIELDS, NO_PARAMS, RUN_PARAMS};
use tokio::net::TcpListener;

pub use error::ApiError;
pub use guard::{Access, host_name};

/// The largest request body taken: a payload at its limit, with room for the JSON around it.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn router(engine: Engine, access: Access) -> Router {
    let mut api = Router::new();
    for Route { path, endpoints } in routes() {
        let methods = endpoints
            .into_iter()
            .fold(MethodRouter::new(), |methods, endpoint| {
                methods.merge(endpoint.handler)
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
    endpoints: Vec<Endpoint>,
}

/// A method on a path: the query parameters its handler takes (the lists it parses with)
/// and the handler.
struct Endpoint {
    // The method and parameters are what the document is checked against (the tests);
    // the router itself needs only the handler, which carries the method too.
    #[cfg_attr(not(test), allow(dead_code))]
    method: Method,
    #[cfg_attr(not(test), allow(dead_code))]
    query: &'static [&'static [&'static str]],
    /// The top-level fields of the JSON body it takes; none for a route without a body.
    #[cfg_attr(not(test), allow(dead_code))]
    body: &'static [&'static [&'static str]],
    handler: MethodRouter<Engine>,
}

impl Endpoint {
    /// The body fields the handler takes (the lists it reads the body with).
    fn body(mut self, fields: &'static [&'static [&'static str]]) -> Endpoint {
        self.body = fields;
        self
    }
}

/// `handler` answering `method` with the query parameters in `query`: named once, for the
/// router and for the check against the OpenAPI document.
fn endpoint<H, T>(method: Method, query: &'static [&'static [&'static str]], handler: H) -> Endpoint
where
    H: Handler<T, Engine>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
    Endpoint {
        method,
        query,
        body: &[],
        handler: on(filter, handler),
    }
}

/// Every route of the REST API (the web UI's pages and assets are `ui.rs`'s). A test checks
/// this table against `openapi.json` both ways.
fn routes() -> Vec<Route> {
    use Method as M;
    let route = |path, endpoints| Route { path, endpoints };
    vec![
        route(
            "/healthz",
            vec![endpoint(M::GET, &[NO_PARAMS], operations::health)],
        ),
        route(
            "/metrics",
            vec![endpoint(M::GET, &[NO_PARAMS], analytics::metrics)],
        ),
        route(
            "/api/v1/openapi.json",
            vec![endpoint(M::GET, &[NO_PARAMS], operations::openapi)],
        ),
        route(
            "/api/v1/executions",
            vec![endpoint(
                M::GET,
                &[executions::FILTER_PARAMS, executions::PAGE_PARAMS],
                executions::list,
            )],
        ),
        route(
            "/api/v1/executions/bulk",
            vec![endpoint(M::POST, &[NAMESPACE_PARAMS], bulk::bulk).body(&[bulk::BULK_FIELDS])],
        ),
        route(
            "/api/v1/executions-count",
            vec![endpoint(
                M::GET,
                &[executions::FILTER_PARAMS, NAMESPACE_PARAMS],
                interact::count,
            )],
        ),
        route(
            "/api/v1/executions/{workflow_id}",
            vec![endpoint(M::GET, &[executions::GET_PARAMS], executions::get)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/history",
            vec![endpoint(
                M::GET,
                &[executions::HISTORY_PARAMS],
                executions::history,
            )],
        ),
        route(
            "/api/v1/executions/{workflow_id}/logs",
            vec![
                endpoint(M::GET, &[logs::GET_PARAMS], logs::get),
                endpoint(M::POST, &[RUN_PARAMS], logs::append)
                    .body(&[logs::LINE_FIELDS, &["lines"]]),
            ],
        ),
        route(
            "/api/v1/executions/{workflow_id}/stream",
            vec![endpoint(
                M::GET,
                &[streams::EXECUTION_PARAMS],
                streams::execution,
            )],
        ),
        route(
            "/api/v1/executions/{workflow_id}/cancel",
            vec![
                endpoint(M::POST, &[RUN_PARAMS], executions::cancel)
                    .body(&[executions::REASON_FIELDS]),
            ],
        ),
        route(
            "/api/v1/executions/{workflow_id}/terminate",
            vec![
                endpoint(M::POST, &[RUN_PARAMS], executions::terminate)
                    .body(&[executions::REASON_FIELDS]),
            ],
        ),
        route(
            "/api/v1/executions/{workflow_id}/signal",
            vec![
                endpoint(M::POST, &[RUN_PARAMS], executions::signal)
                    .body(&[executions::SIGNAL_FIELDS]),
            ],
        ),
        route(
            "/api/v1/executions/{workflow_id}/query",
            vec![endpoint(M::POST, &[RUN_PARAMS], interact::query).body(&[interact::QUERY_FIELDS])],
        ),
        route(
            "/api/v1/executions/{workflow_id}/update",
            vec![
                endpoint(M::POST, &[RUN_PARAMS], interact::update).body(&[interact::UPDATE_FIELDS]),
            ],
        ),
        route(
            "/api/v1/executions/{workflow_id}/reset",
            vec![
                endpoint(M::POST, &[RUN_PARAMS], executions::reset)
                    .body(&[executions::RESET_FIELDS]),
            ],
        ),
        route(
            "/api/v1/stream/executions",
            vec![endpoint(M::GET, &[NAMESPACE_PARAMS], streams::executions)],
        ),
        route(
            "/api/v1/task-queues",
            vec![endpoint(M::GET, &[NAMESPACE_PARAMS], queues::list)],
        ),
        route(
            "/api/v1/task-queues/{name}",
            vec![endpoint(M::GET, &[NAMESPACE_PARAMS], queues::describe)],
        ),
        route(
            "/api/v1/workers",
            vec![endpoint(M::GET, &[NAMESPACE_PARAMS], queues::workers)],
        ),
        route(
            "/api/v1/namespaces",
            vec![
                endpoint(M::GET, &[NO_PARAMS], queues::namespaces),
                endpoint(M::POST, &[NO_PARAMS], queues::create_namespace)
                    .body(&[queues::NAMESPACE_FIELDS]),
            ],
        ),
        route(
            "/api/v1/analytics",
            vec![endpoint(
                M::GET,
                &[analytics::ANALYTICS_PARAMS],
                analytics::analytics,
            )],
        ),
        route(
            "/api/v1/schedules",
            vec![endpoint(M::GET, &[NAMESPACE_PARAMS], schedules::list)],
        ),
        route(
            "/api/v1/schedules/{schedule_id}",
            vec![
                endpoint(M::GET, &[NAMESPACE_PARAMS], schedules::get),
                endpoint(M::DELETE, &[NAMESPACE_PARAMS], schedules::delete),
            ],
        ),
        route(
            "/api/v1/schedules/{schedule_id}/backfill",
            vec![
                endpoint(M::POST, &[NAMESPACE_PARAMS], schedules::backfill)
                    .body(&[schedules::BACKFILL_FIELDS]),
            ],
        ),
        route(
            "/api/v1/schedules/{schedule_id}/{action}",
            vec![
                endpoint(M::POST, &[NAMESPACE_PARAMS], schedules::act)
                    .body(&[schedules::ACT_FIELDS]),
            ],
        ),
        route(
            "/api/v1/flows",
            vec![
                endpoint(M::GET, &[NAMESPACE_PARAMS], flows::list),
                endpoint(M::POST, &[NO_PARAMS], flows::save).body(&[flows::SAVE_FIELDS]),
            ],
        ),
        route(
            "/api/v1/flows/schema.json",
            vec![endpoint(M::GET, &[NO_PARAMS], flows::schema)],
        ),
        route(
            "/api/v1/flows/validate",
            vec![endpoint(M::POST, &[NO_PARAMS], flows::validate).body(&[flows::SAVE_FIELDS])],
        ),
        route(
            "/api/v1/flows/{namespace}/{flow_id}",
            vec![
                endpoint(M::GET, &[flows::GET_PARAMS], flows::get),
                endpoint(M::DELETE, &[NO_PARAMS], flows::delete),
            ],
        ),
        route(
            "/api/v1/flows/{namespace}/{flow_id}/revisions",
            vec![endpoint(M::GET, &[NO_PARAMS], flows::revisions)],
        ),
        route(
            "/api/v1/flows/{namespace}/{flow_id}/diff",
            vec![endpoint(M::GET, &[flows::DIFF_PARAMS], flows::diff)],
        ),
        route(
            "/api/v1/flows/{namespace}/{flow_id}/run",
            vec![endpoint(M::POST, &[NO_PARAMS], flows::run).body(&[flows::RUN_FIELDS])],
        ),
        route(
            "/api/v1/flows/{namespace}/{flow_id}/webhook/{key}",
            vec![endpoint(M::POST, &[flows::WEBHOOK_PARAMS], flows::webhook)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/tasks",
            vec![endpoint(M::GET, &[RUN_PARAMS], flows::tasks)],
        ),
        route(
            "/api/v1/executions/{workflow_id}/restart",
            vec![endpoint(M::POST, &[RUN_PARAMS], flows::restart).body(&[NO_FIELDS])],
        ),
        route(
            "/api/v1/executions/{workflow_id}/replay",
            vec![endpoint(M::POST, &[RUN_PARAMS], flows::replay).body(&[flows::REPLAY_FIELDS])],
        ),
        route(
            "/api/v1/executions/{workflow_id}/resume",
            vec![
                endpoint(M::GET, &[RUN_PARAMS], flows::waiting),
                endpoint(M::POST, &[RUN_PARAMS], flows::resume).body(&[flows::RESUME_FIELDS]),
            ],
        ),
        route(
            "/api/v1/plans",
            vec![
                endpoint(M::GET, &[NAMESPACE_PARAMS], plans::list),
                endpoint(M::POST, &[NAMESPACE_PARAMS], plans::create).body(&[plans::CREATE_FIELDS]),
            ],
        ),
        route(
            "/api/v1/plans/{plan_id}",
            vec![
                endpoint(M::GET, &[NAMESPACE_PARAMS], plans::get),
                endpoint(M::PATCH, &[NAMESPACE_PARAMS], plans::edit).body(&[plans::EDIT_FIELDS]),
                endpoint(M::DELETE, &[plans::DELETE_PARAMS], plans::delete),
            ],
        ),
        route(
            "/api/v1/plans/{plan_id}/start",
            vec![endpoint(M::POST, &[NAMESPACE_PARAMS], plans::start).body(&[NO_FIELDS])],
        ),
    ]
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: crate::openapi::ErrorCode::MethodNotAllowed,
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

    use serde_json::Value;

    use super::*;

    /// `value` with its `$ref`s followed, within `document`.
    fn resolved(document: &Value, value: &Value) -> Value {
        let mut value = value.clone();
        while let Some(reference) = value["$ref"].as_str().map(str::to_owned) {
            value = document
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{reference} is not in the document"))
                .clone();
        }
        value
    }

    /// Every name in `lists`.
    fn names(lists: &[&[&str]]) -> BTreeSet<String> {
        lists
            .iter()
            .flat_map(|list| list.iter().map(|name| (*name).to_owned()))
            .collect()
    }

    /// Every `$ref` in the document names something in it: the generated part and the
    /// hand-written rest refer to each other's schemas.
    #[test]
    fn every_reference_in_the_openapi_document_resolves() {
        let document: Value = serde_json::from_str(openapi::document()).unwrap();
        let mut pending = vec![document.clone()];
        let mut references = 0;
        while let Some(value) = pending.pop() {
            match value {
                Value::Object(fields) => {
                    if let Some(Value::String(reference)) = fields.get("$ref") {
                        let pointer = reference.trim_start_matches('#');
                        assert!(
                            document
                                .pointer(pointer)
                                .is_some_and(|target| !target.is_null()),
                            "{reference} is not in the document"
                        );
                        references += 1;
                    }
                    pending.extend(fields.into_iter().map(|(_, value)| value));
                }
                Value::Array(items) => pending.extend(items),
                _ => {}
            }
        }
        assert!(references > 100, "only {references} references");
    }

    /// Every route is documented and every documented route is routed, with its methods.
    #[test]
    fn the_openapi_document_names_exactly_the_routes_served() {
        let document: Value = serde_json::from_str(openapi::document()).unwrap();
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
                    .map(move |endpoint| (route.path.to_owned(), endpoint.method.to_string()))
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

    /// Each operation documents exactly the query parameters its handler takes.
    #[test]
    fn the_openapi_document_names_exactly_the_query_parameters_taken() {
        let document: Value = serde_json::from_str(openapi::document()).unwrap();
        for route in routes() {
            let operations = &document["paths"][route.path];
            for endpoint in route.endpoints {
                let method = endpoint.method.as_str().to_ascii_lowercase();
                let listed = operations["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(operations[&method]["parameters"].as_array())
                    .flatten();
                let documented: BTreeSet<String> = listed
                    .map(|parameter| resolved(&document, parameter))
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(
                    documented,
                    names(endpoint.query),
                    "{} {}: documented query parameters, then taken ones",
                    endpoint.method,
                    route.path
                );
            }
        }
    }

    /// Each operation documents exactly the body fields its handler takes: the properties
    /// of its request schema, and of each alternative when it has several.
    #[test]
    fn the_openapi_document_names_exactly_the_body_fields_taken() {
        let document: Value = serde_json::from_str(openapi::document()).unwrap();
        for route in routes() {
            for endpoint in route.endpoints {
                let method = endpoint.method.as_str().to_ascii_lowercase();
                let schema = &document["paths"][route.path][&method]["requestBody"]["content"]["application/json"]
                    ["schema"];
                let mut documented = BTreeSet::new();
                if !schema.is_null() {
                    let schema = resolved(&document, schema);
                    let alternatives = ["oneOf", "anyOf"]
                        .iter()
                        .filter_map(|key| schema[*key].as_array())
                        .flatten()
                        .map(|alternative| resolved(&document, alternative));
                    for part in std::iter::once(schema.clone()).chain(alternatives) {
                        if let Some(properties) = part["properties"].as_object() {
                            documented.extend(properties.keys().cloned());
                        }
                    }
                }
                assert_eq!(
                    documented,
                    names(endpoint.body),
                    "{} {}: documented body fields, then taken ones",
                    endpoint.method,
                    route.path
                );
            }
        }
    }

    /// The names a document enum lists, which must be what the engine takes: the enum only
    /// describes a body read field by field, so nothing else ties the two together.
    fn documented_enum(schema: &str) -> Vec<String> {
        let document: Value = serde_json::from_str(openapi::document()).expect("JSON");
        let names = &document["components"]["schemas"][schema]["enum"];
        let names = names
            .as_array()
            .unwrap_or_else(|| panic!("{schema} is an enum"));
        names
            .iter()
            .map(|name| name.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn documented_names_are_the_ones_the_engine_takes() {
        assert_eq!(
            documented_enum("ResetPointName"),
            keel_core::reset::ResetPoint::NAMES
        );
        assert_eq!(documented_enum("LogLevel"), keel_engine::operators::LEVELS);
        let document: Value = serde_json::from_str(openapi::document()).expect("JSON");
        assert_eq!(
            document["components"]["schemas"]["LogLines"]["properties"]["lines"]["maxItems"],
            keel_engine::operators::MAX_LINES_PER_APPEND
        );
    }
}
