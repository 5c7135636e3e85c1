//! The `keel` verbs that talk to a running server: clients of its REST API only.
//!
//! Each noun (`execution`, `plan`, `worker`, `queue`, `namespace`, `analytics`) has its module with
//! its clap arguments and a `run`. This module holds what they share: the connection and
//! output options, query strings, and writing to stdout. Data goes to stdout (a table on a
//! terminal, the server's JSON otherwise); notes and prompts go to stderr.

pub mod address;
pub mod analytics;
pub mod client;
pub mod execution;
pub mod flow;
pub mod namespace;
pub mod plan;
pub mod queue;
pub mod sse;
pub mod table;
pub mod worker;

use std::fmt;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::client::Client;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The server's JSON, pretty-printed (one object per line for live streams).
    Json,
}

/// Options every verb takes. `global` lets them go before or after the verb.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Keel's HTTP address (http:// only).
    #[arg(
        long,
        env = "KEEL_ADDRESS",
        default_value = "http://127.0.0.1:8233",
        global = true
    )]
    pub address: String,
    /// Output format [default: table when stdout is a terminal, json otherwise].
    #[arg(short = 'o', long = "output", value_enum, global = true)]
    pub output: Option<Format>,
}

/// The namespace option of the verbs that concern executions.
#[derive(clap::Args, Debug)]
pub struct NamespaceArg {
    /// The namespace to work in.
    #[arg(long, env = "KEEL_NAMESPACE", default_value = "default", global = true)]
    pub namespace: String,
}

/// What a verb needs to do its requests and print their results.
pub struct Session {
    pub client: Client,
    pub format: Format,
}

impl Common {
    pub fn session(&self) -> Result<Session> {
        let format = self.output.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        });
        Ok(Session {
            client: Client::new(&self.address)?,
            format,
        })
    }
}

/// A query string built from pairs, percent-encoded; displays as `""` or `"?a=1&b=2"`.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn new() -> Query {
        Query::default()
    }

    pub fn push(&mut self, key: &str, value: impl Into<String>) -> &mut Query {
        self.pairs.push((key.to_string(), value.into()));
        self
    }

    /// Adds the pair only when there is a value, so absent options stay absent.
    pub fn push_opt(&mut self, key: &str, value: Option<&str>) -> &mut Query {
        if let Some(value) = value {
            self.push(key, value);
        }
        self
    }
}

impl fmt::Display for Query {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (pair_idx, (key, value)) in self.pairs.iter().enumerate() {
            let separator = if pair_idx == 0 { '?' } else { '&' };
            write!(
                formatter,
                "{separator}{}={}",
                percent_encode(key),
                percent_encode(value)
            )?;
        }
        Ok(())
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the text is safe both
/// as a query value (`'`, `=`, `&`, spaces in Temporal filters) and as a path segment
/// (workflow ids may contain `/`).
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Writes data to stdout. A closed pipe (`keel execution list | head`) ends the program
/// quietly, as it does for other command-line tools.
pub fn emit(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        result => result.context("cannot write to stdout"),
    }
}

pub fn print_json(value: &Value) -> Result<()> {
    emit(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// One compact JSON object per line, for live streams that never end in a single document.
pub fn print_json_line(value: &Value) -> Result<()> {
    emit(&format!("{value}\n"))
}

/// `1 execution`, `2 executions`.
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_percent_encoded() {
        let mut query = Query::new();
        query
            .push("namespace", "default")
            .push_opt("run_id", None)
            .push(
                "query",
                "WorkflowType = 'Order' AND StartTime > '2026-01-01T00:00:00Z'",
            )
            .push_opt("search", Some("a&b=c/d é"));
        assert_eq!(
            query.to_string(),
            "?namespace=default\
             &query=WorkflowType%20%3D%20%27Order%27%20AND%20StartTime%20%3E%20%272026-01-01T00%3A00%3A00Z%27\
             &search=a%26b%3Dc%2Fd%20%C3%A9"
        );
        assert_eq!(Query::new().to_string(), "");
        assert_eq!(percent_encode("order-1_v2.x~"), "order-1_v2.x~");
        assert_eq!(plural(1, "execution"), "1 execution");
        assert_eq!(plural(0, "execution"), "0 executions");
    }
}
