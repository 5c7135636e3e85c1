//! A throwaway PostgreSQL cluster for tests: `initdb` into a fresh directory, `postgres`
//! on a free loopback port, torn down when dropped — and when the test process dies, since
//! the server is told to quit when its parent goes.
//!
//! The binaries are taken from `KEEL_PG_BIN`, else the newest
//! `/usr/lib/postgresql/<version>/bin`, else the `PATH`. PostgreSQL refuses to run as root,
//! so under root the cluster belongs to the `postgres` user. Anything that keeps the cluster
//! from starting panics with what went wrong: tests that need PostgreSQL fail, they are
//! never skipped.

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The role tests connect as (trusted, no password).
pub const USER: &str = "keel";

pub struct PostgresCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    server: Option<Child>,
    n_databases: AtomicU64,
}

impl PostgresCluster {
    /// Creates and starts a new cluster.
    pub fn start() -> PostgresCluster {
        static N_CLUSTERS: AtomicU64 = AtomicU64::new(0);
        let bin = binaries();
        let base = std::env::temp_dir();
        sweep_abandoned(&base);
        let dir = base.join(format!(
            "keel-pg-{}-{}",
            std::process::id(),
            N_CLUSTERS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let owner = postgres_owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot hand {} to postgres: {e}", dir.display()));
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("--pgdata")
            .arg(dir.join("data"))
            .args(["--username", USER, "--auth", "trust", "--encoding", "UTF8"])
            .args(["--locale", "C", "--no-sync"]);
        run_as(&mut initdb, owner);
        let output = initdb
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.join("initdb").display()));
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut cluster = PostgresCluster {
            bin,
            dir,
            port: free_port(),
            owner,
            server: None,
            n_databases: AtomicU64::new(0),
        };
        cluster.start_server();
        cluster
    }

    /// A URL for `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a new, empty database and returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!("keel_{}", self.n_databases.fetch_add(1, Ordering::Relaxed));
        let output = Command::new(self.bin.join("createdb"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--username", USER, &name])
            .output()
            .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
        assert!(
            output.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(&name)
    }

    /// The database at `url` (one of this cluster's) as plain SQL, without owners or grants,
    /// so that it restores into any database: what `pg_dump` makes of it.
    pub fn dump(&self, url: &str) -> String {
        let output = Command::new(self.bin.join("pg_dump"))
            .args(["--no-owner", "--no-privileges", "--dbname", url])
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_dump: {e}"));
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("pg_dump writes text")
    }

    /// A new database holding what `dump` made; answers its URL.
    pub fn restore(&self, dump: &Path) -> String {
        let url = self.create_database();
        let output = Command::new(self.bin.join("psql"))
            .args([
                "--quiet",
                "--no-psqlrc",
                "--set",
                "ON_ERROR_STOP=1",
                "--dbname",
                &url,
            ])
            .arg("--file")
            .arg(dump)
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            output.status.success(),
            "restoring {} failed: {}",
            dump.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        url
    }

    /// Stops the server with a fast shutdown (clients are disconnected, nothing is lost).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            signal(&server, libc::SIGINT);
            let _ = server.wait();
        }
    }

    /// Starts the server again on the same data and port.
    pub fn restart(&mut self) {
        self.stop();
        self.start_server();
    }

    fn start_server(&mut self) {
        assert!(self.server.is_none(), "the server is running already");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open the server log: {e}"));
        if let Some((uid, gid)) = self.owner {
            let _ = std::os::unix::fs::chown(self.log_path(), Some(uid), Some(gid));
        }
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "max_connections=400"])
            // Only Keel processes are killed in these tests, never the machine: the
            // operating system keeps what PostgreSQL wrote, so skipping fsync loses nothing
            // the tests could notice and spares the shared disk.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        run_as(&mut command, self.owner);
        unsafe {
            // The server quits (immediate shutdown) when the thread that started it dies:
            // the keeper thread lives as long as the test process.
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let server = spawn_from_keeper(command).unwrap_or_else(|e| {
            panic!("cannot start {}: {e}", self.bin.join("postgres").display())
        });
        self.server = Some(server);
        self.wait_until_ready();
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let server = self.server.as_mut().expect("started");
            if let Ok(Some(status)) = server.try_wait() {
                panic!(
                    "PostgreSQL exited ({status}) instead of starting:\n{}",
                    self.log_tail()
                );
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
                .args(["--username", USER, "--dbname", "postgres", "--quiet"])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections within a minute:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut log = String::new();
        if let Ok(mut file) = fs::File::open(self.log_path()) {
            let _ = file.read_to_string(&mut log);
        }
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len())
            .find(|i| log.is_char_boundary(*i))
            .unwrap_or(log.len());
        log[start..].to_owned()
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            signal(&server, libc::SIGQUIT);
            let _ = server.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    unsafe {
        libc::kill(pid, signal);
    }
}

fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("KEEL_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL's initdb and postgres are not installed (looked in KEEL_PG_BIN, \
             /usr/lib/postgresql/*/bin and PATH); scripts/postgres-env.sh installs them"
        )
    })
}

/// Under root, the `postgres` user's ids: PostgreSQL will not run as root.
fn postgres_owner() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let owner = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    Some(owner.unwrap_or_else(|| {
        panic!(
            "running as root, but there is no 'postgres' user to run PostgreSQL as; \
             scripts/postgres-env.sh creates it"
        )
    }))
}

fn run_as(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    command.env("LC_ALL", "C");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("cannot find a free port: {e}"))
}

/// Removes the directories of clusters whose test process is gone.
fn sweep_abandoned(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("keel-pg-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` from a thread that lives as long as the process, so that a child's
/// parent-death signal fires when the process ends, not when the test thread that asked
/// for it finishes.
fn spawn_from_keeper(command: Command) -> std::io::Result<Child> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("keel-test-process-keeper".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("starting the process keeper thread");
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .expect("keeper lock poisoned")
        .send((command, reply))
        .expect("the keeper thread lives as long as the process");
    answer.recv().expect("the keeper thread answers")
}
