//! Browsers as clients: what a foreign web page could make a user's browser send to the
//! REST API is refused and changes nothing. A cross-site "simple request" (text/plain, a
//! form) cannot act on executions, another page's Origin cannot act, and a Host name the
//! server does not serve (DNS rebinding) cannot even read. CORS only when configured.

use serde_json::json;
use temporalio_client::WorkflowStartOptions;

use crate::harness::{Server, unique};
use crate::rest_client::Rest;
use crate::workflows::Greeting;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_and_foreign_hosts_are_refused() {
    let server = Server::start().await;
    let client = server.client().await;
    let rest = Rest::new(&server.http_addr);
    let id = unique("guarded");
    client
        .start_workflow(
            Greeting::run,
            "nobody".to_owned(),
            WorkflowStartOptions::new(unique("no-worker-queue"), &id).build(),
        )
        .await
        .unwrap();
    let terminate = format!("/api/v1/executions/{id}/terminate");
    let body = br#"{"reason": "from a foreign page"}"#;
    let own_origin = format!("http://{}", server.http_addr.trim_start_matches("http://"));

    // A simple request: text/plain, a form, or no type at all.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|value| vec![("Content-Type", value)])
            .unwrap_or_default();
        let answer = rest.request("POST", &terminate, &headers, Some(body)).await;
        assert_eq!(
            answer.error_code(415),
            "unsupported_media_type",
            "{content_type:?}"
        );
    }
    let bulk = json!({"action": "terminate", "query": "ExecutionStatus = 'Running'"});
    let answer = rest
        .request(
            "POST",
            "/api/v1/executions/bulk",
            &[("Content-Type", "text/plain")],
            Some(bulk.to_string().as_bytes()),
        )
        .await;
    assert_eq!(answer.error_code(415), "unsupported_media_type");

    // JSON, but from another origin's page (it would need a preflight, never granted).
    let answer = rest
        .request(
            "POST",
            &terminate,
            &[
                ("Content-Type", "application/json"),
                ("Origin", "https://evil.example"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(answer.error_code(403), "forbidden");
    assert!(answer.text().contains("--cors-origin"), "{}", answer.text());
    let preflight = rest
        .request(
            "OPTIONS",
            &terminate,
            &[
                ("Origin", "https://evil.example"),
                ("Access-Control-Request-Method", "POST"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    let read = rest
        .request(
            "GET",
            "/api/v1/executions",
            &[("Origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(read.status, 200, "reads stay open to scripts");
    assert_eq!(
        read.header("access-control-allow-origin"),
        None,
        "but no CORS: the foreign page cannot read the answer"
    );

    // DNS rebinding: a foreign name pointed at 127.0.0.1.
    for path in ["/api/v1/executions", "/", "/ui/app.js", "/healthz"] {
        let answer = rest
            .request("GET", path, &[("Host", "rebound.evil.example:8233")], None)
            .await;
        assert_eq!(answer.error_code(403), "forbidden", "{path}");
        assert!(answer.text().contains("--allow-host"), "{}", answer.text());
    }
    for host in ["localhost:8233", "127.0.0.1", "[::1]:8233", "app.localhost"] {
        let answer = rest
            .request("GET", "/healthz", &[("Host", host)], None)
            .await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.text());
    }

    // Nothing of the above changed the run.
    let run = rest.ok(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(run["status"], "running");
    assert_eq!(run["history_length"], 2);

    // The UI's own page, same origin and JSON, may act.
    let answer = rest
        .request(
            "POST",
            &terminate,
            &[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Origin", own_origin.as_str()),
            ],
            Some(body),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let run = rest.ok(&format!("/api/v1/executions/{id}")).await;
    assert_eq!(run["status"], "terminated");

    // The UI's pages: served with a policy that forbids framing and foreign scripts.
    let page = rest.get("/executions/some-id?tab=history").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/ui/app.js"));
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
    let script = rest.get("/ui/app.js").await;
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let etag = script.header("etag").expect("an etag").to_owned();
    let again = rest
        .request(
            "GET",
            "/ui/app.js",
            &[("If-None-Match", etag.as_str())],
            None,
        )
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(
        rest.get("/ui/missing.js").await.error_code(404),
        "not_found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_names_and_origins_are_let_in() {
    let server = Server::start_with(
        crate::harness::Backend::Sqlite,
        &[
            "--allow-host",
            "keel.internal",
            "--cors-origin",
            "https://ops.example.com",
        ],
    )
    .await;
    let rest = Rest::new(&server.http_addr);
    let answer = rest
        .request("GET", "/healthz", &[("Host", "keel.internal:8233")], None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer = rest
        .request("GET", "/healthz", &[("Host", "other.internal")], None)
        .await;
    assert_eq!(answer.error_code(403), "forbidden");

    let preflight = rest
        .request(
            "OPTIONS",
            "/api/v1/namespaces",
            &[
                ("Origin", "https://ops.example.com"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://ops.example.com")
    );
    let created = rest
        .request(
            "POST",
            "/api/v1/namespaces",
            &[
                ("Content-Type", "application/json"),
                ("Origin", "https://ops.example.com"),
            ],
            Some(br#"{"name": "from-ops"}"#),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        created.header("access-control-allow-origin"),
        Some("https://ops.example.com")
    );
    let refused = rest
        .request(
            "POST",
            "/api/v1/namespaces",
            &[
                ("Content-Type", "application/json"),
                ("Origin", "https://elsewhere.example.com"),
            ],
            Some(br#"{"name": "from-elsewhere"}"#),
        )
        .await;
    assert_eq!(refused.error_code(403), "forbidden");
}
