//! A tiny HTTP/1.1 client for Keel's REST API, on hyper's connection-level API.
//!
//! One connection per request: the CLI makes a handful of calls, so a pool would only add
//! code. It speaks plain `http://` only, and turns Keel's error bodies
//! (`{"error": {"code", "message"}}`) into one-line errors.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::cli::address::Address;
use crate::cli::sse;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Client {
    address: Address,
}

impl Client {
    /// Accepts `http://host:port[/prefix]` or a bare `host:port`.
    pub fn new(address: &str) -> Result<Client> {
        Ok(Client {
            address: Address::parse(address)?,
        })
    }

    /// GET, answering the body of a 2xx response.
    pub async fn get_bytes(&self, path_and_query: &str) -> Result<Bytes> {
        let response = self
            .send(Method::GET, path_and_query, None, "application/json", None)
            .await?;
        self.collect(Method::GET, path_and_query, response).await
    }

    pub async fn get_json(&self, path_and_query: &str) -> Result<Value> {
        let body = self.get_bytes(path_and_query).await?;
        parse_json(&Method::GET, path_and_query, &body)
    }

    /// GET, answering `None` when the server says 404 (anything else not 2xx is an error).
    pub async fn get_json_if_found(&self, path_and_query: &str) -> Result<Option<Value>> {
        let response = self
            .send(Method::GET, path_and_query, None, "application/json", None)
            .await?;
        if response.status() == hyper::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = self.collect(Method::GET, path_and_query, response).await?;
        parse_json(&Method::GET, path_and_query, &body).map(Some)
    }

    pub async fn post_json(&self, path_and_query: &str, body: &Value) -> Result<Value> {
        self.send_json(Method::POST, path_and_query, Some(body))
            .await
    }

    pub async fn patch_json(&self, path_and_query: &str, body: &Value) -> Result<Value> {
        self.send_json(Method::PATCH, path_and_query, Some(body))
            .await
    }

    pub async fn delete_json(&self, path_and_query: &str) -> Result<Value> {
        self.send_json(Method::DELETE, path_and_query, None).await
    }

    /// A request with a JSON body (or none), answering the JSON of a 2xx response.
    async fn send_json(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let request_body = body
            .map(serde_json::to_vec)
            .transpose()
            .context("cannot encode the request body")?;
        let response = self
            .send(
                method.clone(),
                path_and_query,
                request_body,
                "application/json",
                None,
            )
            .await?;
        let body = self
            .collect(method.clone(), path_and_query, response)
            .await?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        parse_json(&method, path_and_query, &body)
    }

    /// GET a `text/event-stream`; `last_event_id` resumes after an event already seen.
    pub async fn stream(
        &self,
        path_and_query: &str,
        last_event_id: Option<&str>,
    ) -> Result<EventStream> {
        let response = self
            .send(
                Method::GET,
                path_and_query,
                None,
                "text/event-stream",
                last_event_id,
            )
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            return Err(server_error(&Method::GET, path_and_query, status, &body));
        }
        Ok(EventStream {
            body: response.into_body(),
            parser: sse::Parser::default(),
            ready: VecDeque::new(),
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let connecting = TcpStream::connect((self.address.host.as_str(), self.address.port));
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(self.unreachable(&describe_io_error(&error))),
            Err(_elapsed) => return Err(self.unreachable("no answer within 5 s")),
        };
        // Requests are small and written at once; don't let Nagle delay them.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| self.unreachable(&error.to_string()))?;
        // hyper's connection future does the socket I/O; it ends once the response body has
        // been read or dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        accept: &str,
        last_event_id: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let uri = format!("{}{path_and_query}", self.address.base_path);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(HOST, &self.address.authority)
            .header(ACCEPT, accept)
            .header(USER_AGENT, concat!("keel-cli/", env!("CARGO_PKG_VERSION")));
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if let Some(last_event_id) = last_event_id {
            builder = builder.header("last-event-id", last_event_id);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .with_context(|| format!("cannot build the request {method} {uri}"))?;
        sender.send_request(request).await.map_err(|error| {
            anyhow!(
                "{method} {uri} to Keel at {} failed: {error}",
                self.address.text
            )
        })
    }

    /// Reads the whole body; a status other than 2xx becomes the error the server described.
    async fn collect(
        &self,
        method: Method,
        path_and_query: &str,
        response: Response<Incoming>,
    ) -> Result<Bytes> {
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| {
                anyhow!("{method} {path_and_query}: reading the answer failed: {error}")
            })?
            .to_bytes();
        if status.is_success() {
            return Ok(body);
        }
        Err(server_error(&method, path_and_query, status, &body))
    }

    fn unreachable(&self, reason: &str) -> anyhow::Error {
        anyhow!("cannot reach Keel at {}: {reason}", self.address.text)
    }
}

/// The events of an SSE response, parsed as body frames arrive.
pub struct EventStream {
    body: Incoming,
    parser: sse::Parser,
    ready: VecDeque<sse::Event>,
}

impl EventStream {
    /// The next event, or `None` once the server has ended the stream.
    pub async fn next(&mut self) -> Result<Option<sse::Event>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(Some(event));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(error)) => bail!("the event stream broke off: {error}"),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.ready.extend(self.parser.push(&data));
                    }
                }
            }
        }
    }
}

fn parse_json(method: &Method, path_and_query: &str, body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body)
        .with_context(|| format!("{method} {path_and_query}: the answer is not JSON"))
}

/// Keel's `{"error": {"code", "message"}}` as its message; anything else as the status and
/// the start of the body, since a proxy or an older server may answer.
fn server_error(
    method: &Method,
    path_and_query: &str,
    status: hyper::StatusCode,
    body: &[u8],
) -> anyhow::Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|value| value["error"]["message"].as_str())
    {
        return anyhow!("{}", one_line(message));
    }
    let text = one_line(&String::from_utf8_lossy(body));
    let excerpt: String = text.chars().take(200).collect();
    let hint = if status == hyper::StatusCode::NOT_FOUND {
        " (is Keel's REST API served at this address?)"
    } else {
        ""
    };
    if excerpt.is_empty() {
        anyhow!("{method} {path_and_query}: the server answered {status}{hint}")
    } else {
        anyhow!("{method} {path_and_query}: the server answered {status}{hint}: {excerpt}")
    }
}

/// Errors are printed on one line, whatever the server put in its message.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// io::Error's text without the `(os error 111)` tail, lower-case like the rest of the line.
fn describe_io_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut => "connection timed out".to_string(),
        _ => {
            let text = error.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_become_one_line() {
        let body = br#"{"error": {"code": "not_found", "message": "workflow execution order-1\nnot found"}}"#;
        let error = server_error(
            &Method::GET,
            "/api/v1/executions/order-1",
            hyper::StatusCode::NOT_FOUND,
            body,
        );
        assert_eq!(error.to_string(), "workflow execution order-1 not found");
        let error = server_error(
            &Method::GET,
            "/x",
            hyper::StatusCode::BAD_GATEWAY,
            b"<html>\nbad gateway</html>",
        );
        assert_eq!(
            error.to_string(),
            "GET /x: the server answered 502 Bad Gateway: <html> bad gateway</html>"
        );
    }
}
