//! SQLite storage: the durable copy of every call. The hub's batches are written by one
//! connection in one transaction each (group commit: one fsync for many requests), and
//! the history query reads through a small pool of read-only connections, which WAL mode
//! lets run beside the writer.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use beckon_protocol::{CallInfo, CallList, CallMode, CallState, CallUserState, StateReason};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;

use crate::core::{Call, Invite, Member, Seq};

/// Every storage error names the file and the step that failed, so an operator reading
/// the log or the binary's last line knows where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "{db} is in use by another beckon-server (it holds the lock on {lock}); \
         stop that server first, or give this one another --db"
    )]
    Locked { db: PathBuf, lock: PathBuf },
    #[error("{path}: cannot {doing}: {source}")]
    Io {
        path: PathBuf,
        doing: &'static str,
        source: std::io::Error,
    },
    #[error("{path}: cannot {doing}: {source}")]
    Sqlite {
        path: PathBuf,
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error("{path}: cannot {doing}: no reading connection: {source}")]
    Pool {
        path: PathBuf,
        doing: &'static str,
        source: r2d2::Error,
    },
    /// Stored data that cannot be read back. Asking again gives the same answer.
    #[error("{path}: cannot {doing}: damaged data: {detail}")]
    Corrupt {
        path: PathBuf,
        doing: &'static str,
        detail: String,
    },
}

impl StoreError {
    /// Whether the failure is in the stored data itself: no retry can succeed until the
    /// operator repairs the file.
    pub fn is_corrupt(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            _ => false,
        }
    }
}

/// A failure before it is known which file and which step it belongs to.
enum Fault {
    Sql(rusqlite::Error),
    Bad(String),
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Fault {
        match e {
            // A column holding a value of the wrong type is damaged data, not a failed read.
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => Fault::Bad(e.to_string()),
            e => Fault::Sql(e),
        }
    }
}

impl Fault {
    fn at(self, path: &Path, doing: &'static str) -> StoreError {
        let path = path.to_path_buf();
        match self {
            Fault::Sql(source) => StoreError::Sqlite {
                path,
                doing,
                source,
            },
            Fault::Bad(detail) => StoreError::Corrupt {
                path,
                doing,
                detail,
            },
        }
    }
}

fn sqlite<'a>(
    path: &'a Path,
    doing: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |e| Fault::from(e).at(path, doing)
}

fn io<'a>(path: &'a Path, doing: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        doing,
        source,
    }
}

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// fsync on every commit: nothing answered is lost, even on power loss.
    Full,
    /// fsync at checkpoints: survives a killed process, not a power cut; faster.
    Normal,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    seq           INTEGER PRIMARY KEY,
    call_id       TEXT NOT NULL UNIQUE,
    caller        TEXT NOT NULL,
    caller_name   TEXT NOT NULL,
    mode          TEXT NOT NULL,
    state         TEXT NOT NULL,
    create_time   INTEGER NOT NULL,
    end_time      INTEGER NOT NULL,
    extended_data TEXT NOT NULL,
    answered      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(state) WHERE state = 'started';
CREATE TABLE IF NOT EXISTS members (
    seq           INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    user_id       TEXT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT,
    extended_data TEXT NOT NULL,
    inviter       TEXT NOT NULL,
    update_time   INTEGER NOT NULL,
    invite_time   INTEGER NOT NULL,
    timeout_secs  INTEGER NOT NULL,
    deadline      INTEGER NOT NULL,
    invite_data   TEXT NOT NULL,
    push          TEXT,
    device        TEXT,
    PRIMARY KEY (seq, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id, seq DESC);
";

/// The writer: owned by the storage thread.
pub struct Writer {
    conn: Connection,
    path: PathBuf,
    /// Set by the checkpointer when the WAL has grown past [`WalPolicy::rewind_at_frames`].
    rewind: Arc<AtomicBool>,
}

/// How the WAL is kept small. SQLite starts the WAL over from its beginning only when a
/// write begins after a checkpoint copied every frame back. A checkpointer beside a writer
/// that never pauses never gets there, and the file then grows without end (1.2 GB in a
/// 40 s benchmark), each new block zeroed by the kernel and each commit's fsync carrying
/// the file's growth. So the checkpointer copies frames back often, beside the writer, and
/// when the WAL is long the writer itself runs one short checkpoint of what is left, with
/// no write between it and the next commit, which then rewinds.
#[derive(Debug, Clone, Copy)]
pub struct WalPolicy {
    /// How often the checkpointer copies frames back (a PASSIVE checkpoint: never blocks).
    pub every: std::time::Duration,
    /// WAL length, in frames, past which the writer finishes the checkpoint itself.
    pub rewind_at_frames: u32,
}

impl Default for WalPolicy {
    fn default() -> Self {
        WalPolicy {
            every: std::time::Duration::from_millis(100),
            // 256 MiB at 4 KiB pages. At 5,000 invitations/s (~50 MB/s of WAL here) that is
            // one rewind every ~5 s, and the writer's pass that allows it (~10 ms on this
            // disk) delays ~0.2% of requests: less than the 1% a p99 would show.
            rewind_at_frames: 65_536,
        }
    }
}

/// A checkpoint pass this quick found only a commit or two to copy.
const CAUGHT_UP: std::time::Duration = std::time::Duration::from_millis(2);
/// Passes a round makes at most to catch up with a writer that never pauses.
const MAX_CATCH_UP_PASSES: usize = 8;

/// The WAL file is cut back to this when SQLite starts it over, should a burst (or a
/// long history query pinning old frames) have made it longer.
const WAL_KEEP_BYTES: i64 = 256 << 20;

/// Read-only connections for the history query, and the file they read (for errors).
#[derive(Clone)]
pub struct ReadPool {
    pool: r2d2::Pool<SqliteConnectionManager>,
    path: Arc<Path>,
}

/// Held for the server's whole life: while it exists no other server can open the same
/// database, so two processes never write the same calls.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// Takes the exclusive lock on `<db>.lock`, or says which server holds it. An OS lock on a
/// separate file rather than SQLite's `locking_mode=EXCLUSIVE`: that mode would shut out
/// the server's own read pool and checkpointer, which are other connections. The kernel
/// drops the lock when the process dies, so a killed server never leaves a stale one.
pub fn lock(db: &Path) -> Result<DbLock, StoreError> {
    create_parent(db)?;
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock = db.with_file_name(name);
    let file = create_private(&lock).map_err(io(&lock, "open the lock file"))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(DbLock { _file: file }),
        Err(fs4::TryLockError::WouldBlock) => Err(StoreError::Locked {
            db: db.to_path_buf(),
            lock,
        }),
        Err(fs4::TryLockError::Error(e)) => Err(io(&lock, "lock the lock file")(e)),
    }
}

fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(io(dir, "create the directory"))
        }
        _ => Ok(()),
    }
}

/// Opens `path`, creating it readable by its owner only: the database holds who called
/// whom. SQLite gives the `-wal` and `-shm` files the mode of the database file.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Read-only connections in the pool, so history queries that may run at once.
pub const READERS: u32 = 4;

/// Opens (creating if needed) the database and returns the writer and a read pool.
pub fn open(path: &Path, durability: Durability) -> Result<(Writer, ReadPool), StoreError> {
    create_parent(path)?;
    create_private(path).map_err(io(path, "create the database file"))?;
    let conn = Connection::open(path).map_err(sqlite(path, "open the database"))?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    let configure = || -> rusqlite::Result<()> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", sync)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Checkpoints run on their own connection (see `spawn_checkpointer`): inside a
        // commit they would stall every answer waiting on that commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES)
    };
    configure().map_err(sqlite(path, "configure the database"))?;
    conn.execute_batch(SCHEMA)
        .map_err(sqlite(path, "create the tables"))?;
    let manager = SqliteConnectionManager::file(path).with_init(|c| {
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        c.pragma_update(None, "query_only", true)
    });
    let pool = r2d2::Pool::builder()
        .max_size(READERS)
        .build(manager)
        .map_err(|source| StoreError::Pool {
            path: path.to_path_buf(),
            doing: "open the database for reading",
            source,
        })?;
    let writer = Writer {
        conn,
        path: path.to_path_buf(),
        rewind: Arc::new(AtomicBool::new(false)),
    };
    let reads = ReadPool {
        pool,
        path: Arc::from(path),
    };
    Ok((writer, reads))
}

/// The checkpointer's own connection, and the flag through which it asks the writer to
/// finish a long WAL (see [`WalPolicy`]).
pub struct Checkpointer {
    conn: Connection,
    policy: WalPolicy,
    rewind: Arc<AtomicBool>,
}

impl Checkpointer {
    pub fn open(path: &Path, writer: &Writer, policy: WalPolicy) -> Result<Self, StoreError> {
        let doing = "open the database for checkpoints";
        let conn = Connection::open(path).map_err(sqlite(path, doing))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite(path, doing))?;
        Ok(Checkpointer {
            conn,
            policy,
            rewind: writer.rewind.clone(),
        })
    }

    /// Copies what it can back into the database (a PASSIVE checkpoint never blocks the
    /// writer) and, when the WAL is long, asks the writer to finish. Before asking it
    /// copies again until a pass finds little left: the writer's pass then copies only
    /// the last commit or two, and requests wait on it for a millisecond or so rather
    /// than for everything written since this round began.
    pub fn round(&self) {
        let long = |wal: &WalState| wal.frames >= i64::from(self.policy.rewind_at_frames);
        match checkpoint(&self.conn, "PASSIVE") {
            Ok(wal) if long(&wal) => {
                for _ in 0..MAX_CATCH_UP_PASSES {
                    let started = std::time::Instant::now();
                    if checkpoint(&self.conn, "PASSIVE").is_err() || started.elapsed() < CAUGHT_UP {
                        break;
                    }
                }
                self.rewind.store(true, Ordering::Relaxed)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; will retry"),
        }
    }

    /// Runs a round every `policy.every` on its own thread until `stop` is set, then
    /// empties the WAL.
    pub fn spawn(
        self,
        path: &Path,
        stop: Arc<AtomicBool>,
    ) -> Result<std::thread::JoinHandle<()>, StoreError> {
        std::thread::Builder::new()
            .name("beckon-checkpoint".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(self.policy.every);
                    self.round();
                }
                let _ = checkpoint(&self.conn, "TRUNCATE");
            })
            .map_err(io(path, "start the checkpoint thread"))
    }
}

/// What a checkpoint reports: the WAL's length and how much of it is copied back.
#[derive(Debug, Clone, Copy)]
struct WalState {
    /// Another connection held a lock the checkpoint needed, so it stopped early.
    busy: bool,
    frames: i64,
    copied: i64,
}

fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<WalState> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(WalState {
            busy: r.get::<_, i64>(0)? != 0,
            frames: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

impl Writer {
    /// Upserts every call snapshot in one transaction; returns once it is durable.
    pub fn write(&mut self, calls: &[Call]) -> Result<(), StoreError> {
        write_calls(&mut self.conn, calls).map_err(sqlite(&self.path, "commit a batch of calls"))
    }

    /// Between commits, when the checkpointer asked: copies the rest of the WAL back, so
    /// the next commit starts the WAL over. Cheap, because the checkpointer already copied
    /// all but the last moments' frames. A failure is only logged: the data is safe in the
    /// WAL, and the next request to rewind tries again.
    pub fn maintain(&mut self) {
        if !self.rewind.load(Ordering::Relaxed) {
            return;
        }
        match checkpoint(&self.conn, "PASSIVE") {
            Ok(wal) if !wal.busy && wal.copied == wal.frames => {
                self.rewind.store(false, Ordering::Relaxed)
            }
            // The checkpointer is mid-way through its own pass: try after the next commit.
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, db = %self.path.display(), "WAL checkpoint failed; will retry")
            }
        }
    }

    /// Calls the hub must hold after a restart: every live one, and those that ended less
    /// than `retention_ms` ago (so late requests on them still get precise answers).
    pub fn load(&self, now: u64, retention_ms: u64) -> Result<(Vec<Call>, Seq), StoreError> {
        load_calls(&self.conn, now, retention_ms)
            .map_err(|f| f.at(&self.path, "load the calls to restore"))
    }
}

fn write_calls(conn: &mut Connection, calls: &[Call]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut call_stmt = tx.prepare_cached(
            "INSERT INTO calls (seq, call_id, caller, caller_name, mode, state,
                 create_time, end_time, extended_data, answered)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (seq) DO UPDATE SET state = excluded.state,
                   end_time = excluded.end_time, answered = excluded.answered",
        )?;
        let mut member_stmt = tx.prepare_cached(
            "INSERT INTO members (seq, position, user_id, state, reason,
                 extended_data, inviter, update_time, invite_time, timeout_secs, deadline,
                 invite_data, push, device)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (seq, user_id) DO UPDATE SET state = excluded.state,
                   reason = excluded.reason, extended_data = excluded.extended_data,
                   inviter = excluded.inviter, update_time = excluded.update_time,
                   invite_time = excluded.invite_time, timeout_secs = excluded.timeout_secs,
                   deadline = excluded.deadline, invite_data = excluded.invite_data,
                   push = excluded.push, device = excluded.device",
        )?;
        for c in calls {
            call_stmt.execute(params![
                c.seq as i64,
                c.id,
                c.caller,
                c.caller_name,
                enum_str(&c.mode),
                enum_str(&c.state),
                c.create_time as i64,
                c.end_time as i64,
                c.extended_data,
                c.answered,
            ])?;
            for (pos, m) in c.members.iter().enumerate() {
                let push = m
                    .invite
                    .push
                    .as_ref()
                    .map(|p| serde_json::to_string(p).unwrap_or_default());
                member_stmt.execute(params![
                    c.seq as i64,
                    pos as i64,
                    m.user_id,
                    m.state.as_str(),
                    m.reason.as_ref().map(enum_str),
                    m.extended_data,
                    m.inviter,
                    m.update_time as i64,
                    m.invite.time as i64,
                    m.invite.timeout_secs,
                    m.invite.deadline as i64,
                    m.invite.extended_data,
                    push,
                    m.device,
                ])?;
            }
        }
    }
    tx.commit()
}

fn load_calls(conn: &Connection, now: u64, retention_ms: u64) -> Result<(Vec<Call>, Seq), Fault> {
    let max_seq: Option<i64> = conn
        .query_row("SELECT MAX(seq) FROM calls", [], |r| r.get(0))
        .optional()?
        .flatten();
    let since = now.saturating_sub(retention_ms) as i64;
    let mut stmt = conn.prepare(
        "SELECT seq, call_id, caller, caller_name, mode, state, create_time, end_time,
                extended_data, answered
         FROM calls WHERE state = 'started' OR end_time >= ?1",
    )?;
    let mut calls = stmt
        .query_map([since], call_row)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    for call in &mut calls {
        call.members = members_of(conn, call.seq)?;
    }
    Ok((calls, max_seq.unwrap_or(0) as u64 + 1))
}

/// The history query: calls `user` is a member of, newest first, `count` at most, before
/// `next_flag` (a call seq; 0 means from the newest). Rows are read one at a time and the
/// page ends early, with a `next_flag` to go on, before its JSON would pass `max_bytes`
/// (the first call is always included).
pub fn query_calls(
    pool: &ReadPool,
    user: &str,
    count: u32,
    next_flag: u64,
    max_bytes: usize,
) -> Result<CallList, StoreError> {
    const DOING: &str = "read the call history";
    let conn = pool.pool.get().map_err(|source| StoreError::Pool {
        path: pool.path.to_path_buf(),
        doing: DOING,
        source,
    })?;
    history(&conn, user, count, next_flag, max_bytes).map_err(|f| f.at(&pool.path, DOING))
}

fn history(
    conn: &Connection,
    user: &str,
    count: u32,
    next_flag: u64,
    max_bytes: usize,
) -> Result<CallList, Fault> {
    let before = if next_flag == 0 {
        i64::MAX
    } else {
        next_flag as i64
    };
    let mut stmt = conn.prepare_cached(
        "SELECT c.seq, c.call_id, c.caller, c.caller_name, c.mode, c.state, c.create_time,
                c.end_time, c.extended_data, c.answered
         FROM members m JOIN calls c ON c.seq = m.seq
         WHERE m.user_id = ?1 AND m.seq < ?2
         ORDER BY m.seq DESC LIMIT ?3",
    )?;
    // One extra row tells whether another page exists.
    let mut rows = stmt.query(params![user, before, count as i64 + 1])?;
    let mut list: Vec<CallInfo> = Vec::new();
    // The answer's envelope, then each call and its comma.
    let mut bytes = 128;
    let mut last_seq = 0;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if list.len() == count as usize {
            more = true;
            break;
        }
        let mut call = call_row(row)??;
        call.members = members_of(conn, call.seq)?;
        let info = call.info();
        let size = json_len(&info) + 1;
        if !list.is_empty() && bytes + size > max_bytes {
            more = true;
            break;
        }
        bytes += size;
        last_seq = call.seq;
        list.push(info);
    }
    Ok(CallList {
        call_list: list,
        next_flag: if more { last_seq } else { 0 },
    })
}

/// Bytes of `v` as JSON, counted without building the string.
fn json_len(v: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, v);
    count.0
}

fn members_of(conn: &Connection, seq: Seq) -> Result<Vec<Member>, Fault> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, state, reason, extended_data, inviter, update_time, invite_time,
                timeout_secs, deadline, invite_data, push, device
         FROM members WHERE seq = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([seq as i64], |r| {
        let state: String = r.get(1)?;
        let reason: Option<String> = r.get(2)?;
        let push: Option<String> = r.get(10)?;
        Ok((
            state,
            reason,
            push,
            Member {
                user_id: r.get(0)?,
                state: CallUserState::Inviting,
                reason: None,
                extended_data: r.get(3)?,
                inviter: r.get(4)?,
                update_time: r.get::<_, i64>(5)? as u64,
                invite: Invite {
                    time: r.get::<_, i64>(6)? as u64,
                    timeout_secs: r.get(7)?,
                    deadline: r.get::<_, i64>(8)? as u64,
                    extended_data: r.get(9)?,
                    push: None,
                },
                device: r.get(11)?,
            },
        ))
    })?;
    let in_call = |e: Fault| match e {
        Fault::Bad(detail) => Fault::Bad(format!("call {seq}: {detail}")),
        e => e,
    };
    let mut out = Vec::new();
    for row in rows {
        let (state, reason, push, mut m) = row.map_err(|e| in_call(e.into()))?;
        m.state = parse_enum::<CallUserState>("members.state", &state).map_err(in_call)?;
        m.reason = reason
            .map(|r| parse_enum::<StateReason>("members.reason", &r))
            .transpose()
            .map_err(in_call)?;
        m.invite.push = push
            .map(|p| {
                serde_json::from_str(&p).map_err(|e| {
                    Fault::Bad(format!("call {seq}: members.push is not valid JSON: {e}"))
                })
            })
            .transpose()?
            .map(Box::new);
        out.push(m);
    }
    Ok(out)
}

fn call_row(r: &Row<'_>) -> rusqlite::Result<Result<Call, Fault>> {
    let seq = r.get::<_, i64>(0)?;
    let mode: String = r.get(4)?;
    let state: String = r.get(5)?;
    let build = |mode: CallMode, state: CallState| -> rusqlite::Result<Call> {
        Ok(Call {
            seq: seq as u64,
            id: r.get(1)?,
            caller: r.get(2)?,
            caller_name: r.get(3)?,
            mode,
            state,
            create_time: r.get::<_, i64>(6)? as u64,
            end_time: r.get::<_, i64>(7)? as u64,
            extended_data: r.get(8)?,
            answered: r.get(9)?,
            members: Vec::new(),
        })
    };
    match (
        parse_enum("calls.mode", &mode),
        parse_enum("calls.state", &state),
    ) {
        (Ok(mode), Ok(state)) => build(mode, state).map(Ok),
        (Err(Fault::Bad(detail)), _) | (_, Err(Fault::Bad(detail))) => {
            Ok(Err(Fault::Bad(format!("call {seq}: {detail}"))))
        }
        (Err(e), _) | (_, Err(e)) => Ok(Err(e)),
    }
}

/// Enums are stored as their wire names, so the database reads like the protocol.
fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn parse_enum<T: DeserializeOwned>(column: &str, s: &str) -> Result<T, Fault> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| Fault::Bad(format!("{column} holds `{s}`, which is not a valid value")))
}

#[cfg(test)]
#[path = "store_wal_tests.rs"]
mod wal_tests;
