//! Runs the real `keel` binary on ephemeral loopback ports with its own data directory, and
//! connects official Temporal SDK clients and workers to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use keel_store::testing::PostgresCluster;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::Request;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::{EventType, HistoryEventFilterType};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse, GetWorkflowExecutionHistoryRequest,
};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::workflows;

/// Where a server keeps its data.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines tests that each run once on each backend, as `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($(#[doc = $doc:literal])* async fn $name:ident($backend:ident: Backend $(,)?) $body:block)*) => {
        $(on_both_backends!(@one $(#[doc = $doc])* async fn $name($backend: Backend) $body);)*
    };
    (@one $(#[doc = $doc:literal])* async fn $name:ident($backend:ident: Backend $(,)?) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn test($backend: Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                test(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                test(Backend::Postgres).await
            }
        }
    };
}
pub(crate) use on_both_backends;

/// The PostgreSQL cluster this test process shares between its servers: each server gets
/// a database of its own.
pub fn postgres_cluster() -> &'static PostgresCluster {
    static CLUSTER: OnceLock<PostgresCluster> = OnceLock::new();
    CLUSTER.get_or_init(PostgresCluster::start)
}

pub struct Server {
    child: Option<Child>,
    pub grpc_addr: String,
    pub http_addr: String,
    data_dir: PathBuf,
    db_url: Option<String>,
    args: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    /// A fresh server with an empty data directory (SQLite).
    pub async fn start() -> Server {
        Server::start_on(Backend::Sqlite).await
    }

    /// A fresh server on an empty store of the given backend.
    pub async fn start_on(backend: Backend) -> Server {
        Server::start_with(backend, &[]).await
    }

    /// A fresh server on an empty store of the given backend, with extra command-line
    /// arguments (limits, say).
    pub async fn start_with(backend: Backend, args: &[&str]) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres_cluster().create_database()),
        };
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut server = Server::spawn(temp.path(), "127.0.0.1:0", url.as_deref(), &args).await;
        server._temp = Some(temp);
        server
    }

    /// A server on the SQLite data directory `data_dir`, which the caller owns (a copy of
    /// a fixture, say).
    pub async fn start_in(data_dir: &Path) -> Server {
        Server::spawn(data_dir, "127.0.0.1:0", None, &[]).await
    }

    /// The PostgreSQL database a server runs on; `None` for SQLite.
    pub fn db_url(&self) -> Option<&str> {
        self.db_url.as_deref()
    }

    /// Where a SQLite server keeps its data.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A server on the PostgreSQL database at `url`, which other nodes may share.
    pub async fn node(url: &str) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = Server::spawn(temp.path(), "127.0.0.1:0", Some(url), &[]).await;
        server._temp = Some(temp);
        server
    }

    async fn spawn(
        data_dir: &Path,
        grpc_addr: &str,
        db_url: Option<&str>,
        args: &[String],
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keel"));
        command.arg("server").args(args);
        if let Some(url) = db_url {
            command.args(["--db", url]);
        }
        unsafe {
            // A test process that dies (a panic in another thread, a closed pipe) takes its
            // servers with it instead of leaving them running.
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .args([
                "--grpc-addr",
                grpc_addr,
                "--http-addr",
                "127.0.0.1:0",
                "--log-level",
                "warn",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("starting keel server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut grpc, mut http) = (None, None);
        let read = async {
            while let Some(line) = lines.next_line().await.expect("reading server output") {
                if let Some(addr) = line.strip_prefix("grpc: ") {
                    grpc = Some(addr.to_owned());
                }
                if let Some(addr) = line.strip_prefix("http: ") {
                    http = Some(addr.to_owned());
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("server printed its addresses in time");
        Server {
            child: Some(child),
            grpc_addr: grpc.expect("server printed its gRPC address"),
            http_addr: http.expect("server printed its HTTP address"),
            data_dir: data_dir.to_owned(),
            db_url: db_url.map(str::to_owned),
            args: args.to_vec(),
            _temp: None,
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("sending SIGKILL");
            child.wait().await.expect("reaping the server");
        }
    }

    /// Starts the server again on the same data directory and gRPC port, so connected
    /// workers and clients find it where they left it.
    pub async fn restart(&mut self) {
        self.kill().await;
        let restarted = Server::spawn(
            &self.data_dir.clone(),
            &self.grpc_addr.clone(),
            self.db_url.clone().as_deref(),
            &self.args.clone(),
        )
        .await;
        self.child = restarted.child;
        self.http_addr = restarted.http_addr;
    }

    /// Runs SQL against the server's database (SQLite file or PostgreSQL database), as an
    /// operator, or a fault, would change it behind the server's back.
    pub async fn run_sql(&self, sql: &str) {
        match &self.db_url {
            None => {
                let db = rusqlite::Connection::open(self.data_dir.join("keel.db"))
                    .expect("opening keel.db");
                db.execute_batch(sql).expect("running SQL on keel.db");
            }
            Some(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("connecting to the server's database");
                tokio::spawn(connection);
                client
                    .batch_execute(sql)
                    .await
                    .expect("running SQL on PostgreSQL");
            }
        }
    }

    /// `keel <verb> …` pointed at this server's store (`--data-dir` or `--db`).
    pub fn store_command(&self, verb: &str) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keel"));
        command.arg(verb);
        match &self.db_url {
            None => command.arg("--data-dir").arg(&self.data_dir),
            Some(url) => command.args(["--db", url]),
        };
        command
    }

    pub async fn client(&self) -> Client {
        let url = Url::from_str(&format!("http://{}", self.grpc_addr)).expect("url");
        let options = ConnectionOptions::new(url)
            .identity("keel-it".to_owned())
            .build();
        let connection = Connection::connect(options)
            .await
            .expect("connecting to keel");
        Client::new(connection, ClientOptions::new("default").build()).expect("client")
    }
}

/// Runs `body` while an SDK worker serves `task_queue` with every test workflow and activity.
pub async fn with_worker<T>(
    client: &Client,
    task_queue: &str,
    body: impl std::future::Future<Output = T>,
) -> T {
    let (result, mut ran) = run_workers(&[client], task_queue, body).await;
    ran.pop()
        .expect("one worker")
        .unwrap_or_else(|error| panic!("worker ran cleanly: {error}"));
    result
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

pub async fn history(client: &Client, workflow_id: &str) -> Vec<HistoryEvent> {
    history_of_run(client, workflow_id, "").await
}

/// One run's history; an empty run id means the workflow id's current run.
pub async fn history_of_run(client: &Client, workflow_id: &str, run_id: &str) -> Vec<HistoryEvent> {
    let mut events = Vec::new();
    let mut next_page_token = Vec::new();
    loop {
        let request = GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: run_id.into(),
            }),
            next_page_token: next_page_token.clone(),
            history_event_filter_type: HistoryEventFilterType::AllEvent as i32,
            ..Default::default()
        };
        let response = WorkflowService::get_workflow_execution_history(
            &mut client.clone(),
            Request::new(request),
        )
        .await
        .expect("history")
        .into_inner();
        events.extend(response.history.unwrap_or_default().events);
        if response.next_page_token.is_empty() {
            return events;
        }
        next_page_token = response.next_page_token;
    }
}

pub async fn describe(client: &Client, workflow_id: &str) -> DescribeWorkflowExecutionResponse {
    let request = DescribeWorkflowExecutionRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution {
            workflow_id: workflow_id.into(),
            run_id: String::new(),
        }),
        ..Default::default()
    };
    WorkflowService::describe_workflow_execution(&mut client.clone(), Request::new(request))
        .await
        .expect("describe")
        .into_inner()
}

pub fn event_types(events: &[HistoryEvent]) -> Vec<EventType> {
    events
        .iter()
        .map(|e| EventType::try_from(e.event_type).expect("known event type"))
        .collect()
}

/// The history invariants every run must keep: ids 1..n without gaps or duplicates, one
/// started event first, nothing after a close event.
/// CountWorkflowExecutions in the default namespace.
pub async fn count(client: &Client, query: &str) -> i64 {
    let request = CountWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: query.into(),
    };
    WorkflowService::count_workflow_executions(&mut client.clone(), Request::new(request))
        .await
        .expect("count")
        .into_inner()
        .count
}

/// Runs `body` while one SDK worker per client serves `task_queue`; answers the body's
/// result and whether each worker shut down cleanly (one whose server died may not).
pub async fn with_workers<T>(
    clients: &[&Client],
    task_queue: &str,
    body: impl std::future::Future<Output = T>,
) -> (T, Vec<bool>) {
    let (result, ran) = run_workers(clients, task_queue, body).await;
    (result, ran.iter().map(Result::is_ok).collect())
}

/// Runs `body` while one SDK worker per client serves `task_queue`, then shuts them down;
/// answers the body's result and how each worker's run ended.
async fn run_workers<T>(
    clients: &[&Client],
    task_queue: &str,
    body: impl std::future::Future<Output = T>,
) -> (T, Vec<Result<(), String>>) {
    run_tuned_workers(clients, task_queue, None, body).await
}

/// Runs `body` while an SDK worker with this many activity slots serves `task_queue`.
pub async fn with_activity_slots<T>(
    client: &Client,
    task_queue: &str,
    activity_slots: usize,
    body: impl std::future::Future<Output = T>,
) -> T {
    use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(10))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(activity_slots))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(10))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(10))
        .build();
    let (result, mut ran) =
        run_tuned_workers(&[client], task_queue, Some(tuner.into()), body).await;
    ran.pop()
        .expect("one worker")
        .unwrap_or_else(|error| panic!("worker ran cleanly: {error}"));
    result
}

async fn run_tuned_workers<T>(
    clients: &[&Client],
    task_queue: &str,
    tuner: Option<temporalio_sdk::runtime::worker_tuner::WorkerTuner>,
    body: impl std::future::Future<Output = T>,
) -> (T, Vec<Result<(), String>>) {
    let runtime = Runtime::from_current_tokio(RuntimeOptions::default()).expect("sdk runtime");
    let mut workers: Vec<Worker> = clients
        .iter()
        .map(|client| {
            let options = workflows::register(WorkerOptions::new(task_queue))
                .graceful_shutdown_period(Duration::from_secs(1))
                .maybe_tuner(tuner.clone())
                .build();
            Worker::new(&runtime, (*client).clone(), options).expect("worker")
        })
        .collect();
    let shutdowns: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
    let body = async {
        let result = body.await;
        for shutdown in &shutdowns {
            shutdown();
        }
        result
    };
    let runs = futures::future::join_all(workers.iter_mut().map(|worker| worker.run()));
    let (ran, result) = tokio::join!(runs, body);
    let ran = ran
        .into_iter()
        .map(|run| run.map_err(|error| format!("{error:#}")))
        .collect();
    (result, ran)
}

pub fn assert_well_formed(events: &[HistoryEvent]) {
    let ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(
        ids, expected,
        "event ids must run from 1 without gaps or duplicates"
    );
    let types = event_types(events);
    assert_eq!(types.first(), Some(&EventType::WorkflowExecutionStarted));
    let closes = |t: &EventType| {
        matches!(
            t,
            EventType::WorkflowExecutionCompleted
                | EventType::WorkflowExecutionFailed
                | EventType::WorkflowExecutionTimedOut
                | EventType::WorkflowExecutionTerminated
        )
    };
    if let Some(position) = types.iter().position(closes) {
        assert_eq!(
            position,
            types.len() - 1,
            "nothing may follow the close event: {types:?}"
        );
    }
}

/// Waits (at most ten seconds) until the workflow's history holds `event`.
pub async fn wait_for_event(client: &Client, workflow_id: &str, event: EventType) {
    for _ in 0..200 {
        if event_types(&history(client, workflow_id).await).contains(&event) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{workflow_id} never reached {event:?}");
}

/// Runs the built `keel` with `args` against `address`; answers (success, stdout, stderr).
pub async fn keel(address: &str, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(args)
        .args(["--address", address])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("running keel");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
