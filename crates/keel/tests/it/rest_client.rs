//! A deliberately small HTTP/1.1 client for the REST tests: raw requests over a TCP
//! connection, so tests can also send what no well-behaved client would (malformed JSON,
//! huge bodies, odd query strings).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error body's code, asserting the status.
    pub fn error_code(&self, status: u16) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        let body = self.json();
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "an error has a message: {body}"
        );
        body["error"]["code"]
            .as_str()
            .expect("an error code")
            .to_owned()
    }
}

pub struct Rest {
    /// `host:port`
    addr: String,
    /// The server's OpenAPI document, read at the first request: every JSON answer to a
    /// documented route must match the schema documented for its status.
    contract: tokio::sync::OnceCell<std::sync::Arc<crate::contract::Contract>>,
}

impl Rest {
    pub fn new(http_url: &str) -> Rest {
        Rest {
            addr: http_url.trim_start_matches("http://").to_owned(),
            contract: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(&bytes),
        )
        .await
    }

    /// GET that answers 200 with a JSON body.
    pub async fn ok(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status, 200, "GET {path}: {}", response.text());
        response.json()
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let response = self.exchange(method, path, headers, body).await;
        let contract = self
            .contract
            .get_or_init(|| async {
                let document = self
                    .exchange("GET", "/api/v1/openapi.json", &[], None)
                    .await
                    .json();
                crate::contract::Contract::of(document)
            })
            .await;
        contract.check(method, path, body, &response);
        response
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let exchange = async {
            let mut stream = TcpStream::connect(&self.addr).await.expect("connecting");
            let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
            // A test may name another Host (as a DNS-rebinding page would).
            if !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("host"))
            {
                head.push_str(&format!("Host: {}\r\n", self.addr));
            }
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\n\r\n",
                body.map_or(0, <[u8]>::len)
            ));
            stream.write_all(head.as_bytes()).await.expect("writing");
            if let Some(body) = body {
                // The server may answer (413) and close before taking all of a huge body.
                let _ = stream.write_all(body).await;
            }
            let mut reader = BufReader::new(stream);
            let (status, headers) = read_head(&mut reader).await;
            let chunked = headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
            let mut body = Vec::new();
            if chunked {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size).await.expect("chunk size");
                    let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
                    let mut chunk = vec![0; size + 2];
                    reader.read_exact(&mut chunk).await.expect("chunk");
                    if size == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..size]);
                }
            } else {
                reader.read_to_end(&mut body).await.expect("body");
            }
            Response {
                status,
                headers,
                body,
            }
        };
        tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| panic!("{method} {path} answered within 30 s"))
    }

    /// The status a request answers with, without reading its body (a stream's does not
    /// end).
    pub async fn head_of(&self, method: &str, path: &str) -> u16 {
        let mut stream = TcpStream::connect(&self.addr).await.expect("connecting");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr
        );
        stream.write_all(head.as_bytes()).await.expect("writing");
        let mut reader = BufReader::new(stream);
        read_head(&mut reader).await.0
    }

    /// Opens a server-sent event stream.
    pub async fn events(&self, path: &str, last_event_id: Option<&str>) -> EventStream {
        let mut stream = TcpStream::connect(&self.addr).await.expect("connecting");
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n",
            self.addr
        );
        if let Some(id) = last_event_id {
            head.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("writing");
        let mut reader = BufReader::new(stream);
        let (status, headers) = read_head(&mut reader).await;
        assert_eq!(status, 200, "GET {path} opens a stream");
        assert!(
            headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("content-type")
                    && v.starts_with("text/event-stream")),
            "{headers:?}"
        );
        EventStream {
            reader,
            pending: String::new(),
            chunk_left: 0,
        }
    }
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).await.expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (status, headers)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

pub struct EventStream {
    reader: BufReader<TcpStream>,
    /// Decoded text not yet split into events.
    pending: String,
    chunk_left: usize,
}

impl EventStream {
    /// The next event (comments and keep-alives skipped), or `None` when the stream ended.
    pub async fn next(&mut self, within: Duration) -> Option<Sse> {
        tokio::time::timeout(within, self.next_event())
            .await
            .unwrap_or_else(|_| panic!("an event arrived within {within:?}"))
    }

    async fn next_event(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, "message".to_owned(), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("event:") {
                        event = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(Sse { id, event, data });
            }
            // The body is chunked: read a chunk header when the last chunk is used up.
            if self.chunk_left == 0 {
                let mut size = String::new();
                if self.reader.read_line(&mut size).await.ok()? == 0 {
                    return None;
                }
                if size.trim().is_empty() {
                    continue;
                }
                self.chunk_left = usize::from_str_radix(size.trim(), 16).ok()?;
                if self.chunk_left == 0 {
                    return None;
                }
            }
            let mut buffer = vec![0; self.chunk_left];
            let read = self.reader.read(&mut buffer).await.ok()?;
            if read == 0 {
                return None;
            }
            self.chunk_left -= read;
            self.pending
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    }

    /// Events until one of kind `event` for which `until` holds; answers all of them.
    pub async fn until(
        &mut self,
        within: Duration,
        mut until: impl FnMut(&Sse) -> bool,
    ) -> Vec<Sse> {
        let mut seen = Vec::new();
        loop {
            let event = self
                .next(within)
                .await
                .unwrap_or_else(|| panic!("stream ended; saw {seen:#?}"));
            let done = until(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}
