//! The web UI: the files under `ui/` at the workspace root, embedded in the binary (in
//! debug builds read from disk, so an edit shows on reload). The UI is a client of the
//! public REST API like any other; this module only hands out its files.
//!
//! Every page of the UI is the same `index.html`: the ES modules it loads read the path
//! and query to decide what to show, so a link to any view can be shared and reloaded.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../ui/"]
#[exclude = "tests/*"]
#[exclude = "bench/*"]
#[exclude = "node_modules/*"]
#[exclude = "package.json"]
#[exclude = "package-lock.json"]
struct Assets;

/// The paths that are pages of the UI (the rest of the UI is under `/ui/`).
const PAGES: &[&str] = &[
    "/",
    "/executions",
    "/executions/{workflow_id}",
    "/workers",
    "/schedules",
    "/flows",
    "/analytics",
];

/// Only scripts and styles of this origin run on the UI's pages; no page may frame them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/ui/{*path}", get(asset));
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router
}

async fn index(headers: HeaderMap) -> Response {
    let mut response = serve("index.html", &headers);
    if response.status() == StatusCode::OK {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::not_found(format!("the UI has no file '{path}'")).into_response();
    };
    // Files are revalidated on every load (they change with the binary, and in debug
    // builds with every edit); an unchanged one costs a 304.
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    let cache = [
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::ETAG, etag.clone()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    let unchanged = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == etag);
    if unchanged {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        [(header::CONTENT_TYPE, content_type(path).to_owned())],
        cache,
        file.data.into_owned(),
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vendored file matches the checksum its README records, and every file in
    /// `vendor/` that is code is recorded there.
    #[test]
    fn vendored_files_match_their_recorded_checksums() {
        let readme = Assets::get("vendor/README.md").expect("vendor/README.md is embedded");
        let readme = std::str::from_utf8(&readme.data).expect("the README is text");
        let mut checked = 0;
        for line in readme.lines().filter(|line| line.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = cells[1].trim_matches('`');
            let recorded = cells[cells.len() - 2].trim_matches('`');
            let asset = Assets::get(&format!("vendor/{file}"))
                .unwrap_or_else(|| panic!("vendor/{file} is recorded but not embedded"));
            assert_eq!(
                hex(&asset.metadata.sha256_hash()),
                recorded,
                "checksum of {file}"
            );
            checked += 1;
        }
        assert!(checked > 0, "the README records the vendored files");
        for path in
            Assets::iter().filter(|path| path.starts_with("vendor/") && path.ends_with(".js"))
        {
            let name = path.trim_start_matches("vendor/");
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not recorded in vendor/README.md"
            );
        }
    }

    #[test]
    fn pages_and_assets_have_their_types() {
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert!(Assets::get("index.html").is_some());
        assert!(Assets::get("node_modules/playwright-core/package.json").is_none());
        assert!(
            Assets::get("tests/url.test.mjs").is_none(),
            "tests are not shipped"
        );
    }
}
