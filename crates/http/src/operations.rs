//! What operators and monitors ask of the server itself: is it up (`/healthz`), and this
//! API's OpenAPI document. (Prometheus `/metrics` is `analytics.rs`'s.)

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use keel_engine::Engine;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(paths(health, openapi))]
pub struct Api;

/// The server is up.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
    /// The server's version.
    #[schema(value_type = String)]
    version: &'static str,
    /// How many namespaces the server has.
    namespaces: usize,
}

/// Check the server is up
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "getHealth",
    tag = "Operations",
    responses((status = 200, description = "The server is up.", body = Health)),
)]
pub async fn health(State(engine): State<Engine>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        namespaces: engine.namespaces().len(),
    })
}

/// Get this OpenAPI document
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "Operations",
    responses((
        status = 200,
        description = "The OpenAPI 3.1 document describing this API.",
        body = Object,
    )),
)]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}
