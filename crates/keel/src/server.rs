//! `keel server`: wires the store, the engine and the frontends together.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use keel_engine::{Engine, Limits, Options};
use keel_store::Store;
use keel_store::postgres::PostgresStore;
use keel_store::sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(clap::Args)]
pub struct Args {
    /// Address of the Temporal gRPC API (port 0 picks a free port).
    #[arg(long, env = "KEEL_GRPC_ADDR", default_value = "127.0.0.1:7233")]
    grpc_addr: String,
    /// Address of the HTTP API (port 0 picks a free port).
    #[arg(long, env = "KEEL_HTTP_ADDR", default_value = "127.0.0.1:8233")]
    http_addr: String,
    /// A host name the HTTP port answers besides loopback names, IP addresses and the name
    /// in --http-addr (others are refused, a defence against DNS rebinding); `*` answers
    /// any. Repeat the flag or separate names with commas.
    #[arg(
        long = "allow-host",
        env = "KEEL_ALLOW_HOSTS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    allow_hosts: Vec<String>,
    /// A web origin (`https://ops.example.com`) whose pages may call the REST API (CORS),
    /// including requests that change executions. None by default.
    #[arg(
        long = "cors-origin",
        env = "KEEL_CORS_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    #[command(flatten)]
    store: StoreArgs,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive.
    #[arg(long, env = "KEEL_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// A run whose history has more events than this is terminated.
    #[arg(long, env = "KEEL_MAX_HISTORY_EVENTS", default_value_t = 50_000)]
    max_history_events: i64,
    /// A run whose history is larger than this many bytes is terminated.
    #[arg(long, env = "KEEL_MAX_HISTORY_BYTES", default_value_t = 50 * 1024 * 1024)]
    max_history_bytes: i64,
    /// The largest payload (input, result, details) a request may carry, in bytes.
    #[arg(long, env = "KEEL_MAX_PAYLOAD_BYTES", default_value_t = 2 * 1024 * 1024)]
    max_payload_bytes: usize,
    /// The largest memo a workflow may carry, in bytes.
    #[arg(long, env = "KEEL_MAX_MEMO_BYTES", default_value_t = 32 * 1024)]
    max_memo_bytes: usize,
    /// A directory of flow documents (.yaml, .yml) to apply at start and whenever they
    /// change; a file removed deletes its flow.
    #[arg(long, env = "KEEL_FLOWS", value_name = "DIR")]
    flows: Option<PathBuf>,
    /// A PEM file of certificate authorities `http.request` trusts besides the system's
    /// (for servers with an internal CA).
    #[arg(long, env = "KEEL_FLOW_HTTP_CA", value_name = "FILE")]
    flow_http_ca: Option<PathBuf>,
    /// Whether flows' `shell` tasks run on this server (`off` fails them, saying so).
    #[arg(long, env = "KEEL_FLOW_SHELL", value_enum, default_value_t = Switch::On)]
    flow_shell: Switch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

pub async fn run(args: Args) -> Result<()> {
    // The connection pool logs every connection a database outage drops; Keel reports the
    // outage itself, in fewer and plainer lines.
    let directives = if args.log_level.contains("deadpool") {
        args.log_level.clone()
    } else {
        format!("{},deadpool=error", args.log_level)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .with_context(|| format!("invalid --log-level '{}'", args.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let (store, place) = open_store(&args.store).await?;
    let grpc_listener = TcpListener::bind(&args.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on gRPC address {}", args.grpc_addr))?;
    let http_listener = TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen on HTTP address {}", args.http_addr))?;
    let defaults = Limits::default();
    let options = Options {
        limits: Limits {
            max_history_events: args.max_history_events,
            max_history_bytes: args.max_history_bytes,
            // Warnings come at a fifth of the limit, as Temporal's defaults have it.
            warn_history_events: (args.max_history_events / 5).min(defaults.warn_history_events),
            warn_history_bytes: (args.max_history_bytes / 5).min(defaults.warn_history_bytes),
            max_payload_bytes: args.max_payload_bytes,
            max_memo_bytes: args.max_memo_bytes,
        },
        encode_search_value: Some(keel_grpc::encode_search_value),
        ..Options::default()
    };
    let engine = Engine::start(store, options)
        .await
        .context("cannot start the engine")?;

    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    // Scripts and tests read these lines to find the chosen ports.
    // Handlers first: whoever reads the banner below may signal at once.
    let shutdown = shutdown_signal()?;
    println!("keel {} data: {place}", env!("CARGO_PKG_VERSION"));
    println!("grpc: {grpc_addr}");
    println!("http: http://{http_addr}");
    use std::io::Write;
    std::io::stdout().flush()?;

    let (stop, stopped) = watch::channel(false);
    let wait = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let grpc = tokio::spawn(keel_grpc::serve(
        engine.clone(),
        grpc_listener,
        wait(stopped.clone()),
    ));
    let mut allowed_hosts = args.allow_hosts.clone();
    allowed_hosts.push(keel_http::host_name(&args.http_addr).to_owned());
    let access = keel_http::Access {
        allowed_hosts,
        cors_origins: args.cors_origins.clone(),
    };
    crate::flows::spawn(
        engine.clone(),
        crate::flows::RunnerOptions {
            shell: args.flow_shell == Switch::On,
            tls: crate::flows::tls_config(args.flow_http_ca.as_deref())?,
        },
        args.flows.clone(),
        stopped.clone(),
    );
    let http = tokio::spawn(keel_http::serve(
        engine,
        http_listener,
        access,
        wait(stopped),
    ));
    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    grpc.await?.context("gRPC server failed")?;
    http.await?.context("HTTP server failed")?;
    Ok(())
}

/// Where Keel keeps its data: shared by the server and the commands that open the store
/// themselves (`keel doctor`).
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for Keel's data (the SQLite database and its WAL).
    #[arg(long, env = "KEEL_DATA_DIR", default_value = ".keel")]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL database instead of the embedded SQLite
    /// (postgres://user:password@host:port/database). Several servers may share one.
    #[arg(long = "db", env = "KEEL_DB_URL", value_name = "URL")]
    pub db_url: Option<String>,
}

impl StoreArgs {
    /// The SQLite database file in the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("keel.db")
    }
}

/// The store the arguments name, and where it is, to print.
pub async fn open_store(args: &StoreArgs) -> Result<(Arc<dyn Store>, String)> {
    if let Some(url) = &args.db_url {
        let store = PostgresStore::connect(url).await?;
        let place = store.place().to_owned();
        return Ok((Arc::new(store), format!("postgres {place}")));
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("data dir {} is unusable", args.data_dir.display()))?;
    let db_path = args.sqlite_path();
    let store = SqliteStore::open(&db_path)
        .with_context(|| format!("data dir {} is unusable", args.data_dir.display()))?;
    Ok((Arc::new(store), db_path.display().to_string()))
}

/// Installs the SIGINT and SIGTERM handlers; the future ends when either signal comes.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
