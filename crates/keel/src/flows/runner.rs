//! The task runner: runs built-in task runs (`log`, `return`, `shell`, `http.request`) that
//! flow executions put on the task runner queue, heartbeating while they run so that a
//! runner lost with its server is noticed and the task run started again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use keel_core::{ExecutionKey, Failure, FailureInfo};
use keel_engine::operators::NewLogLine;
use keel_engine::{ActivityOutcome, ActivityTarget, Engine, PolledActivityTask};
use keel_flows::runtime::{BuiltinTask, FORMAT, TASK_RUNNER_QUEUE, TaskRunInput};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Semaphore, watch};

/// How long one poll waits for a task.
const POLL: Duration = Duration::from_secs(30);
const BACKOFF: Duration = Duration::from_secs(1);
/// Task runs one namespace's runner runs at once.
const PARALLEL: usize = 32;
/// How often a running task run heartbeats (its heartbeat timeout is 10 s).
const HEARTBEAT: Duration = Duration::from_secs(2);
/// The namespace setting (Temporal namespace data) that turns shell tasks off in it.
const SHELL_SETTING: &str = "keel.flow.shell";
/// The largest response body an `http.request` keeps as its output.
const MAX_HTTP_BODY: usize = 1024 * 1024;

/// What the server lets flows run.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// Whether `shell` tasks run (`--flow-shell on|off`).
    pub shell: bool,
    /// How `http.request` checks https servers: the system's certificate authorities and
    /// any the server was given (`--flow-http-ca`).
    pub tls: Arc<tokio_rustls::rustls::ClientConfig>,
}

/// The TLS client configuration of `http.request`: the system's roots (which honour
/// `SSL_CERT_FILE` and `SSL_CERT_DIR`) and the PEM certificates of `extra_ca`.
pub fn tls_config(
    extra_ca: Option<&std::path::Path>,
) -> anyhow::Result<Arc<tokio_rustls::rustls::ClientConfig>> {
    use anyhow::Context;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(certificate);
    }
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read --flow-http-ca {}", path.display()))?;
        let mut added = 0;
        for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate.with_context(|| {
                format!("--flow-http-ca {}: not PEM certificates", path.display())
            })?;
            roots.add(certificate).with_context(|| {
                format!(
                    "--flow-http-ca {}: a certificate is refused",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            anyhow::bail!("--flow-http-ca {}: holds no certificate", path.display());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs a namespace's built-in task runs until `stopped`.
pub async fn poll(
    engine: Engine,
    options: Arc<RunnerOptions>,
    identity: String,
    namespace: String,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(PARALLEL));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let polled = tokio::select! {
            polled = engine.poll_activity_task(&namespace, TASK_RUNNER_QUEUE, &identity, Instant::now() + POLL) => polled,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let task = match polled {
            Ok(Some(task)) => task,
            Ok(None) => continue,
            Err(keel_engine::Error::NotFound(_)) => return,
            Err(error) => {
                tracing::warn!(%namespace, %error, "the flow task runner cannot poll; retrying");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        let (engine, options, identity) = (engine.clone(), options.clone(), identity.clone());
        tokio::spawn(async move {
            let token = task.token.clone();
            let outcome = match run(&engine, &options, &identity, &task).await {
                Ok(output) => {
                    ActivityOutcome::Completed(Some(keel_wire::json::encode_payloads(&[output])))
                }
                Err(refusal) => ActivityOutcome::Failed {
                    failure: refusal.failure(),
                    last_heartbeat_details: None,
                },
            };
            if let Err(error) = engine
                .finish_activity(ActivityTarget::Token(token), outcome, &identity)
                .await
            {
                tracing::debug!(key = ?task.key, %error, "a flow task run's outcome was not taken");
            }
            drop(slot);
        });
    }
}

/// Why a task run failed; `retryable` lets its retry policy try again.
struct Refusal {
    message: String,
    kind: &'static str,
    retryable: bool,
}

impl Refusal {
    fn retryable(kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            kind,
            retryable: true,
        }
    }

    fn final_(kind: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            kind,
            retryable: false,
        }
    }

    fn failure(&self) -> Failure {
        Failure {
            message: self.message.clone(),
            source: "keel-flows".into(),
            info: FailureInfo::Application {
                failure_type: self.kind.into(),
                non_retryable: !self.retryable,
                next_retry_delay: None,
            },
            cause: None,
            original: None,
        }
    }
}

async fn run(
    engine: &Engine,
    options: &RunnerOptions,
    identity: &str,
    task: &PolledActivityTask,
) -> Result<Value, Refusal> {
    let input = task
        .input
        .as_ref()
        .and_then(keel_wire::json::decode_payloads)
        .and_then(|payloads| payloads.into_iter().next())
        .and_then(|payload| serde_json::from_slice::<Value>(&payload.data).ok())
        .ok_or_else(|| Refusal::final_("BadTaskRun", "the task run has no input"))?;
    if input.get("format").and_then(Value::as_u64) != Some(u64::from(FORMAT)) {
        return Err(Refusal::final_(
            "BadTaskRun",
            format!("the task run's input has a format this server does not read: {input}"),
        ));
    }
    let input: TaskRunInput = serde_json::from_value(input).map_err(|error| {
        Refusal::final_(
            "BadTaskRun",
            format!("the task run's input does not read: {error}"),
        )
    })?;
    let log = Logger {
        engine: engine.clone(),
        key: task.key.clone(),
        task_run: input.task_run.clone(),
        worker: identity.to_owned(),
    };
    let work = async {
        match input.task {
            BuiltinTask::Log { level, message } => {
                log.line(&level, message).await;
                Ok(json!({}))
            }
            BuiltinTask::Return { value } => Ok(value),
            BuiltinTask::Shell {
                commands,
                env,
                working_directory,
            } => {
                if !options.shell {
                    return Err(Refusal::final_(
                        "ShellTurnedOff",
                        "shell tasks are turned off on this server (--flow-shell off)",
                    ));
                }
                let namespace = &task.key.namespace;
                let turned_off = engine.namespace(namespace).is_ok_and(|namespace| {
                    namespace.data.get(SHELL_SETTING).map(String::as_str) == Some("off")
                });
                if turned_off {
                    return Err(Refusal::final_(
                        "ShellTurnedOff",
                        format!(
                            "shell tasks are turned off in namespace '{namespace}' ({SHELL_SETTING}: off)"
                        ),
                    ));
                }
                shell(&log, &commands, &env, working_directory.as_deref()).await
            }
            BuiltinTask::HttpRequest {
                uri,
                method,
                headers,
                body,
                expected_status,
            } => {
                let tls = &options.tls;
                http(
                    tls,
                    &uri,
                    &method,
                    &headers,
                    body.as_ref(),
                    &expected_status,
                )
                .await
            }
        }
    };
    let deadline = if task.start_to_close_timeout.is_zero() {
        Duration::from_secs(24 * 3600)
    } else {
        task.start_to_close_timeout
    };
    tokio::select! {
        outcome = tokio::time::timeout(deadline, work) => outcome.unwrap_or_else(|_| {
            Err(Refusal::retryable("Timeout", format!("did not finish within {}", keel_flows::duration::display(deadline))))
        }),
        reason = heartbeat(engine, &task.token) => Err(Refusal::final_("Cancelled", reason)),
    }
}

/// Heartbeats until the task run is cancelled or gone; answers why it should stop.
async fn heartbeat(engine: &Engine, token: &[u8]) -> String {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        match engine
            .heartbeat_activity(ActivityTarget::Token(token.to_vec()), None)
            .await
        {
            Ok(false) => continue,
            Ok(true) => return "the task run was cancelled".into(),
            Err(keel_engine::Error::NotFound(_)) => {
                return "the task run is no longer wanted".into();
            }
            Err(error) => tracing::debug!(%error, "a heartbeat failed; trying again"),
        }
    }
}

/// Writes a task run's lines to its execution's log.
struct Logger {
    engine: Engine,
    key: ExecutionKey,
    task_run: String,
    worker: String,
}

impl Logger {
    async fn line(&self, level: &str, message: String) {
        let mut message = message;
        let max = keel_engine::operators::MAX_MESSAGE_BYTES;
        if message.len() > max {
            let mut cut = max - 3;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        let line = NewLogLine {
            level: level.to_owned(),
            message,
            task_run: self.task_run.clone(),
            worker: self.worker.clone(),
        };
        if let Err(error) = self.engine.append_logs(&self.key, vec![line]).await {
            tracing::debug!(key = ?self.key, %error, "a task run's log line was not kept");
        }
    }
}

/// Runs the commands with `sh -e`, streaming their output to the log; `::{"outputs":
/// {...}}::` lines set output variables. Answers `{"exitCode", "vars"}`.
async fn shell(
    log: &Logger,
    commands: &[String],
    env: &std::collections::BTreeMap<String, String>,
    working_directory: Option<&str>,
) -> Result<Value, Refusal> {
    let scratch = match working_directory {
        Some(_) => None,
        None => {
            let dir =
                std::env::temp_dir().join(format!("keel-task-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).map_err(|error| {
                Refusal::retryable(
                    "ShellFailed",
                    format!("cannot make a working directory: {error}"),
                )
            })?;
            Some(dir)
        }
    };
    let directory = working_directory
        .map(std::path::PathBuf::from)
        .or(scratch.clone())
        .expect("one is set");
    let script = format!("set -e\n{}", commands.join("\n"));
    let mut child = tokio::process::Command::new("sh");
    child
        .arg("-c")
        .arg(&script)
        .envs(env)
        .current_dir(&directory)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // The commands die with the server: a server killed mid-task must not leave them
    // running beside the attempt that runs the task run again after its restart.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the forked child.
    unsafe {
        child.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = child.spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            if let Some(dir) = &scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(Refusal::retryable(
                "ShellFailed",
                format!("cannot start sh in {}: {error}", directory.display()),
            ));
        }
    };
    let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut vars = Map::new();
    let mut last_error = String::new();
    let (mut stdout, mut stderr) = (Some(stdout), Some(stderr));
    while stdout.is_some() || stderr.is_some() {
        tokio::select! {
            line = async { stdout.as_mut().unwrap().next_line().await }, if stdout.is_some() => match line {
                Ok(Some(line)) => match output_line(&line) {
                    Some(outputs) => vars.extend(outputs),
                    None => log.line("info", line).await,
                },
                _ => stdout = None,
            },
            line = async { stderr.as_mut().unwrap().next_line().await }, if stderr.is_some() => match line {
                Ok(Some(line)) => {
                    last_error = line.clone();
                    log.line("warn", line).await;
                }
                _ => stderr = None,
            },
        }
    }
    let status = child.wait().await;
    if let Some(dir) = &scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    let status = status.map_err(|error| {
        Refusal::retryable("ShellFailed", format!("sh did not finish: {error}"))
    })?;
    match status.code() {
        Some(0) => Ok(json!({"exitCode": 0, "vars": vars})),
        Some(code) => {
            let detail = if last_error.is_empty() {
                String::new()
            } else {
                format!(": {last_error}")
            };
            Err(Refusal::retryable(
                "ShellFailed",
                format!("exit code {code}{detail}"),
            ))
        }
        None => Err(Refusal::retryable(
            "ShellFailed",
            "the commands were killed by a signal",
        )),
    }
}

/// The outputs a `::{"outputs": {...}}::` line sets.
fn output_line(line: &str) -> Option<Map<String, Value>> {
    let inner = line.trim().strip_prefix("::")?.strip_suffix("::")?;
    match serde_json::from_str::<Value>(inner).ok()?.get("outputs")? {
        Value::Object(outputs) => Some(outputs.clone()),
        _ => None,
    }
}

/// An HTTP/1.1 connection over `io`, driven in the background.
async fn handshake<S>(
    io: S,
    uri: &str,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, Refusal>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|error| Refusal::retryable("HttpFailed", format!("{uri}: {error}")))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One HTTP/1.1 request; answers `{"status", "headers", "body"}` (the body as JSON when
/// it is JSON, else as text).
async fn http(
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
    uri: &str,
    method: &str,
    headers: &std::collections::BTreeMap<String, String>,
    body: Option<&Value>,
    expected_status: &[u16],
) -> Result<Value, Refusal> {
    let parsed: hyper::Uri = uri
        .parse()
        .map_err(|error| Refusal::final_("BadRequest", format!("'{uri}' is not a URL: {error}")))?;
    let secure = match parsed.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(Refusal::final_(
                "BadRequest",
                format!("'{uri}': an http:// or https:// URL is needed"),
            ));
        }
    };
    let host = parsed
        .host()
        .ok_or_else(|| Refusal::final_("BadRequest", format!("'{uri}' names no host")))?
        .to_owned();
    let port = parsed.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|error| {
            Refusal::retryable(
                "HttpFailed",
                format!("cannot connect to {host}:{port}: {error}"),
            )
        })?;
    let mut sender = if secure {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| Refusal::final_("BadRequest", format!("'{host}' is not a server name")))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, stream)
            .await
            .map_err(|error| Refusal::retryable("HttpFailed", format!("{uri}: TLS: {error}")))?;
        handshake(stream, uri).await?
    } else {
        handshake(stream, uri).await?
    };
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|_| Refusal::final_("BadRequest", format!("'{method}' is not an HTTP method")))?;
    let path = parsed
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(
            hyper::header::HOST,
            parsed.authority().map_or(host.clone(), |a| a.to_string()),
        )
        .header(hyper::header::USER_AGENT, "keel-flows");
    let bytes = match body {
        None => Bytes::new(),
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(other) => {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
            Bytes::from(other.to_string())
        }
    };
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(bytes))
        .map_err(|error| Refusal::final_("BadRequest", format!("{uri}: {error}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| Refusal::retryable("HttpFailed", format!("{uri}: {error}")))?;
    let status = response.status().as_u16();
    let response_headers: Map<String, Value> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                Value::String(value.to_str().unwrap_or_default().to_owned()),
            )
        })
        .collect();
    let collected = http_body_util::Limited::new(response.into_body(), MAX_HTTP_BODY)
        .collect()
        .await
        .map_err(|error| {
            Refusal::retryable("HttpFailed", format!("{uri}: reading the answer: {error}"))
        })?
        .to_bytes();
    let body = serde_json::from_slice::<Value>(&collected)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&collected).into_owned()));
    let expected = if expected_status.is_empty() {
        (200..300).contains(&status)
    } else {
        expected_status.contains(&status)
    };
    if !expected {
        return Err(Refusal::retryable(
            "HttpFailed",
            format!("{uri} answered {status}"),
        ));
    }
    Ok(json!({"status": status, "headers": response_headers, "body": body}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_set_variables() {
        assert_eq!(
            output_line(r#"::{"outputs": {"n": 1}}::"#),
            Some(json!({"n": 1}).as_object().unwrap().clone())
        );
        assert_eq!(output_line("::not json::"), None);
        assert_eq!(output_line("plain text"), None);
    }
}
