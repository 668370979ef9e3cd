//! A throwaway PostgreSQL for tests: `initdb` into a temporary directory and `postgres` on
//! a free port of 127.0.0.1, started once per test binary and stopped when the binary
//! exits. Each test gets a database of its own on it ([`fresh_database`]), so tests stay
//! independent without paying for a server each.
//!
//! The binaries come from PATH, `pg_config --bindir`, or /usr/lib/postgresql/*/bin (the
//! newest). Both refuse to run as root, so as root they run as the `postgres` user (or
//! `nobody`), which then owns the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use beckon_server::store::{Database, PgUrl};

/// The superuser `initdb` creates; tests connect as it, without a password (trust auth on
/// a server only this machine reaches).
const SUPERUSER: &str = "beckon";
/// How long the server gets to accept a first connection.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A running PostgreSQL server. Stopped (fast shutdown, then waited for) and its directory
/// removed on drop, or at exit for the shared one.
pub struct PgServer {
    port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
}

static SHARED: OnceLock<PgServer> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

/// The test binary's PostgreSQL, started on first use. Panics, saying what to install,
/// where there is none.
pub fn shared() -> &'static PgServer {
    SHARED.get_or_init(|| {
        let server = PgServer::start();
        // Statics are never dropped: stop it when the test binary exits.
        // SAFETY: registers a plain function with no arguments, as atexit requires.
        unsafe { libc::atexit(stop_shared_at_exit) };
        server
    })
}

extern "C" fn stop_shared_at_exit() {
    if let Some(server) = SHARED.get() {
        server.stop();
    }
}

/// A new, empty database on the shared server.
pub fn fresh_database() -> PgUrl {
    shared().create_database()
}

/// What `BECKON_TEST_DB` asks the server's tests to run on: `postgres`, or SQLite when
/// unset (or `sqlite`).
pub fn uses_postgres() -> bool {
    // A cluster keeps its calls in PostgreSQL.
    if crate::uses_cluster() {
        return true;
    }
    match std::env::var("BECKON_TEST_DB").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Ok("") | Err(_) => false,
        Ok(other) => panic!("BECKON_TEST_DB={other}: expected `sqlite` or `postgres`"),
    }
}

/// The database for a test server whose files go in `dir`: `dir/beckon.db`, or a fresh
/// PostgreSQL database when `BECKON_TEST_DB=postgres`.
pub fn test_database(dir: &Path) -> Database {
    if uses_postgres() {
        Database::Postgres(fresh_database())
    } else {
        Database::Sqlite(dir.join("beckon.db"))
    }
}

impl PgServer {
    /// initdb, start, and wait until it accepts a connection. Panics with the server's log
    /// if it does not.
    pub fn start() -> PgServer {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's initdb was not found (PATH, pg_config --bindir, \
                 /usr/lib/postgresql/*/bin): install the `postgresql` package \
                 (scripts/lib.sh need_postgres)"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("beckon-pg-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        let owner = unprivileged_owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the directory");
        }
        let data = dir.join("data");
        let log = dir.join("postgres.log");
        let run = |program: &str| {
            let mut cmd = Command::new(bin.join(program));
            cmd.current_dir(&dir).stdin(Stdio::null());
            if let Some((uid, gid)) = owner {
                std::os::unix::process::CommandExt::uid(&mut cmd, uid);
                std::os::unix::process::CommandExt::gid(&mut cmd, gid);
            }
            cmd
        };
        let out = run("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = crate::free_port();
        let log_file = std::fs::File::create(&log).expect("create the server log");
        let child = run("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            // A throwaway cluster: what a crash of the machine would lose does not matter,
            // and many test servers each hold a few connections.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=300"])
            .stdout(log_file.try_clone().expect("the server log"))
            .stderr(log_file)
            .spawn()
            .expect("start postgres");
        let server = PgServer {
            port,
            dir,
            child: Mutex::new(Some(child)),
        };
        server.wait_ready(&log);
        server
    }

    fn wait_ready(&self, log: &Path) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if self.admin().is_ok() {
                return;
            }
            let exited = match self.child.lock() {
                Ok(mut child) => child.as_mut().and_then(|c| c.try_wait().ok().flatten()),
                Err(_) => None,
            };
            let log_text = || std::fs::read_to_string(log).unwrap_or_default();
            if let Some(status) = exited {
                panic!("postgres exited ({status}):\n{}", log_text());
            }
            if Instant::now() > deadline {
                panic!(
                    "postgres did not accept a connection within {READY_WITHIN:?}:\n{}",
                    log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `postgres://beckon@127.0.0.1:<port>/<dbname>`.
    pub fn url(&self, dbname: &str) -> PgUrl {
        let url = format!("postgres://{SUPERUSER}@127.0.0.1:{}/{dbname}", self.port);
        PgUrl::parse(&url).expect("a valid URL")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory: the data directory (`data`) and the server's log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a superuser connection is accepted.
    fn admin(&self) -> Result<(), postgres::Error> {
        self.on_admin(|_| Ok(()))
    }

    /// Runs `f` on a superuser connection to the `postgres` database, on a thread of its
    /// own (the blocking client may not run on an async worker thread).
    pub fn on_admin<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, postgres::Error> {
        let url = self.url("postgres");
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut client = url.config().connect(postgres::NoTls)?;
                f(&mut client)
            })
            .join()
            .expect("the admin thread")
        })
    }

    /// Runs `f` on a connection to `url` (a database of this server), on a thread of its
    /// own.
    pub fn on<T: Send>(
        url: &PgUrl,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, postgres::Error> {
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut client = url.config().connect(postgres::NoTls)?;
                f(&mut client)
            })
            .join()
            .expect("the connection's thread")
        })
    }

    /// A new empty database, `beckon_test_<n>`.
    pub fn create_database(&self) -> PgUrl {
        let name = format!("beckon_test_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        // FILE_COPY (PostgreSQL 15 and later): a quarter of the default WAL_LOG's time
        // for a small template, and the checkpoints it costs are cheap with fsync off.
        let create = format!("CREATE DATABASE {name}");
        self.on_admin(move |c| {
            c.batch_execute(&format!("{create} STRATEGY = FILE_COPY"))
                .or_else(|_| c.batch_execute(&create))
        })
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(&name)
    }

    /// Fast shutdown (SIGINT: sessions are cut, as the test binary is going anyway; the
    /// default SIGTERM would wait for them), waited for, then the directory removed.
    fn stop(&self) {
        let child = match self.child.lock() {
            Ok(mut child) => child.take(),
            Err(_) => None,
        };
        if let Some(mut child) = child {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: a signal to the child this process started and has not reaped.
                unsafe { libc::kill(pid, libc::SIGINT) };
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// As root: the uid and gid of `postgres`, or of `nobody`, to run the server as.
fn unprivileged_owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let find = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [n, _, uid, gid, ..] if *n == name => Some((uid.parse().ok()?, gid.parse().ok()?)),
                _ => None,
            }
        })
    };
    Some(
        find("postgres")
            .or_else(|| find("nobody"))
            .expect("a `postgres` or `nobody` user to run PostgreSQL as"),
    )
}

/// The directory holding `initdb` and `postgres`.
fn bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d)) {
            return Some(dir);
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_both(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}
