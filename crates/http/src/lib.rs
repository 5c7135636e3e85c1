//! Keel's HTTP frontend. For now it serves `/healthz`; the REST API, live streams, metrics
//! and the web UI will live here, translating to engine calls and nothing more.

use axum::routing::get;
use axum::{Json, Router};
use keel_engine::Engine;
use tokio::net::TcpListener;

pub fn router(engine: Engine) -> Router {
    Router::new().route(
        "/healthz",
        get(move || {
            let engine = engine.clone();
            async move {
                Json(serde_json::json!({
                    "status": "ok",
                    "version": env!("CARGO_PKG_VERSION"),
                    "namespaces": engine.namespaces().len(),
                }))
            }
        }),
    )
}

/// Serves HTTP on `listener` until `shutdown` resolves.
pub async fn serve(
    engine: Engine,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
