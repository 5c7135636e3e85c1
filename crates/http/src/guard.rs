//! Who may talk to the HTTP port: the defences that make a browser a safe client.
//!
//! Any page a user visits can make their browser send requests to `127.0.0.1:8233`, so the
//! port must tell a request that Keel's own pages (or a script) send from one that a
//! foreign page slips in:
//!
//! - **DNS rebinding.** A foreign page can point its own host name at 127.0.0.1 and then
//!   read answers as same-origin. Its requests carry that foreign name in `Host`, so only
//!   the names this port serves are answered: loopback names, IP literals (a page served
//!   from an IP address is the server itself, never a rebound name), the configured
//!   address, and the names given with `--allow-host`.
//! - **Cross-site requests.** A form or a `fetch` with `Content-Type: text/plain` reaches
//!   the server without a CORS preflight. POSTs must therefore be `application/json` (which
//!   a foreign page can only send after a preflight that is never granted), and no request
//!   that changes state may come from another origin, unless that origin was allowed with
//!   `--cors-origin`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Which names and origins the HTTP port accepts besides its own.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Host names answered besides loopback names and IP literals (`*` answers any).
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://ops.example.com`) whose pages may call the API: they get CORS
    /// answers and may send state-changing requests.
    pub cors_origins: Vec<String>,
}

impl Access {
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        host == "localhost"
            || host.ends_with(".localhost")
            || host.parse::<std::net::IpAddr>().is_ok()
            || self
                .allowed_hosts
                .iter()
                .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(&host))
    }

    fn cors_allowed(&self, origin: &str) -> bool {
        self.cors_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
    }
}

/// The host name of a `Host` header (or URI authority): without its port, and without the
/// brackets of an IPv6 literal.
pub fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let authority = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    let Some(authority) = authority else {
        return ApiError::bad_request("the request has no Host header").into_response();
    };
    if !access.host_allowed(host_name(&authority)) {
        return ApiError {
            status: StatusCode::FORBIDDEN,
            code: crate::openapi::ErrorCode::Forbidden,
            message: format!(
                "this server does not answer for host '{}' (a defence against DNS rebinding); to reach it by that name, start keel with --allow-host {}",
                host_name(&authority),
                host_name(&authority)
            ),
        }
        .into_response();
    }

    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let cors_origin = origin
        .as_deref()
        .filter(|origin| access.cors_allowed(origin))
        .map(str::to_owned);
    if request.method() == Method::OPTIONS
        && let Some(origin) = &cors_origin
    {
        return preflight(origin);
    }

    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state {
        // Other methods than POST already need a preflight that no foreign origin is
        // granted; the Origin check below covers them too. POST is the one a form or a
        // simple `fetch` sends without asking, so it must be JSON (and so must PATCH, for
        // one rule about bodies).
        if let Some(origin) = &origin
            && cors_origin.is_none()
            && !same_origin(origin, &authority)
        {
            return ApiError {
                status: StatusCode::FORBIDDEN,
                code: crate::openapi::ErrorCode::Forbidden,
                message: format!(
                    "requests from the page origin '{origin}' are refused (cross-site requests cannot change executions); to allow that origin, start keel with --cors-origin {origin}"
                ),
            }
            .into_response();
        }
        if matches!(*request.method(), Method::POST | Method::PATCH) && !is_json(request.headers())
        {
            return ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: crate::openapi::ErrorCode::UnsupportedMediaType,
                message: format!(
                    "{} requests must send 'Content-Type: application/json'",
                    request.method()
                ),
            }
            .into_response();
        }
    }

    let mut response = next.run(request).await;
    if let Some(origin) = cors_origin
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

/// Whether a page at `origin` (`http://host:port`) is this server itself, reached as
/// `authority`.
fn same_origin(origin: &str, authority: &str) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|rest| rest.eq_ignore_ascii_case(authority))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

fn preflight(origin: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PATCH, DELETE"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, last-event-id"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_and_what_is_answered() {
        assert_eq!(host_name("127.0.0.1:8233"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8233"), "::1");
        assert_eq!(host_name("localhost"), "localhost");
        let access = Access {
            allowed_hosts: vec!["keel.internal".into()],
            cors_origins: vec![],
        };
        for host in [
            "localhost",
            "LOCALHOST",
            "app.localhost",
            "127.0.0.1",
            "::1",
            "10.1.2.3",
        ] {
            assert!(access.host_allowed(host), "{host}");
        }
        assert!(access.host_allowed("Keel.Internal"));
        assert!(!access.host_allowed("evil.example"));
        assert!(!access.host_allowed("localhost.evil.example"));
        assert!(same_origin("http://127.0.0.1:8233", "127.0.0.1:8233"));
        assert!(!same_origin("http://127.0.0.1:9999", "127.0.0.1:8233"));
        assert!(!same_origin("https://127.0.0.1:8233", "127.0.0.1:8233"));
        assert!(!same_origin("null", "127.0.0.1:8233"));
    }
}
