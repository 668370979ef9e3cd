//! The SQLite backend, the default: one file beside the server. The hub's batches are
//! written by one connection in one transaction each (group commit: one fsync for many
//! requests), and the history query reads through a small pool of read-only connections,
//! which WAL mode lets run beside the writer.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use beckon_protocol::CallList;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{
    column_list, io, update_set, CallRow, Durability, Fault, HistoryQuery, MemberRow, Page,
    StoreError, CALL_COLUMNS, CALL_UPDATED, HISTORY_DOING, MEMBER_COLUMNS, MEMBER_UPDATED, READERS,
};
use crate::core::{Call, Member, Seq};

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Fault {
        match e {
            // A column holding a value of the wrong type is damaged data, not a failed read.
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => Fault::Bad(e.to_string()),
            e => Fault::Sqlite(e),
        }
    }
}

fn sqlite<'a>(
    path: &'a Path,
    doing: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |e| Fault::from(e).at(&name(path), doing)
}

/// How errors name the database.
fn name(path: &Path) -> String {
    path.display().to_string()
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
    let mut file_name = db.file_name().unwrap_or_default().to_os_string();
    file_name.push(".lock");
    let lock = db.with_file_name(file_name);
    let file = create_private(&lock).map_err(io(&lock, "open the lock file"))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(DbLock { _file: file }),
        Err(fs4::TryLockError::WouldBlock) => Err(StoreError::Locked {
            db: name(db),
            holder: format!("the lock on {}", lock.display()),
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
        // Checkpoints run on their own connection (see `Checkpointer`): inside a
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
            db: name(path),
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

/// `?1, ?2, …, ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

static UPSERT_CALL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO calls ({}) VALUES ({}) ON CONFLICT (seq) DO UPDATE SET {}",
        column_list(&CALL_COLUMNS, None),
        placeholders(CALL_COLUMNS.len()),
        update_set(&CALL_UPDATED),
    )
});
static UPSERT_MEMBER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO members ({}) VALUES ({}) ON CONFLICT (seq, user_id) DO UPDATE SET {}",
        column_list(&MEMBER_COLUMNS, None),
        placeholders(MEMBER_COLUMNS.len()),
        update_set(MEMBER_UPDATED),
    )
});
static LOAD_CALLS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM calls WHERE state = 'started' OR end_time >= ?1",
        column_list(&CALL_COLUMNS, None)
    )
});
static MEMBERS_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM members WHERE seq = ?1 ORDER BY position",
        column_list(&MEMBER_COLUMNS, None)
    )
});
static HISTORY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM members m JOIN calls c ON c.seq = m.seq
         WHERE m.user_id = ?1 AND m.seq < ?2
         ORDER BY m.seq DESC LIMIT ?3",
        column_list(&CALL_COLUMNS, Some("c"))
    )
});

impl Writer {
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

    /// Live calls and those ended at `since` or later, and the next free seq.
    pub fn load(&self, since: i64) -> Result<(Vec<Call>, Seq), StoreError> {
        load_calls(&self.conn, since)
            .map_err(|f| f.at(&name(&self.path), "load the calls to restore"))
    }
}

fn write_calls(conn: &mut Connection, calls: &[Call]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut call_stmt = tx.prepare_cached(&UPSERT_CALL)?;
        let mut member_stmt = tx.prepare_cached(&UPSERT_MEMBER)?;
        for c in calls {
            let r = CallRow::of(c);
            call_stmt.execute(params![
                r.seq,
                r.call_id,
                r.caller,
                r.caller_name,
                r.mode,
                r.state,
                r.create_time,
                r.end_time,
                r.extended_data,
                r.answered,
            ])?;
            for (pos, m) in c.members.iter().enumerate() {
                let r = MemberRow::of(c, pos, m);
                member_stmt.execute(params![
                    r.seq,
                    r.position,
                    r.user_id,
                    r.state,
                    r.reason,
                    r.extended_data,
                    r.inviter,
                    r.update_time,
                    r.invite_time,
                    r.timeout_secs,
                    r.deadline,
                    r.invite_data,
                    r.push,
                    r.device,
                ])?;
            }
        }
    }
    tx.commit()
}

fn load_calls(conn: &Connection, since: i64) -> Result<(Vec<Call>, Seq), Fault> {
    let max_seq: Option<i64> = conn
        .query_row("SELECT MAX(seq) FROM calls", [], |r| r.get(0))
        .optional()?
        .flatten();
    let mut stmt = conn.prepare(&LOAD_CALLS)?;
    let rows = stmt
        .query_map([since], call_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut calls = Vec::with_capacity(rows.len());
    for row in rows {
        let mut call = row.decode()?;
        call.members = members_of(conn, call.seq)?;
        calls.push(call);
    }
    Ok((calls, max_seq.unwrap_or(0) as u64 + 1))
}

impl ReadPool {
    pub(super) fn history(&self, query: &HistoryQuery) -> Result<CallList, StoreError> {
        let conn = self.pool.get().map_err(|source| StoreError::Pool {
            db: name(&self.path),
            doing: HISTORY_DOING,
            source,
        })?;
        history(&conn, query).map_err(|f| f.at(&name(&self.path), HISTORY_DOING))
    }
}

/// Rows are read one at a time, so the page stops reading as soon as it is full.
fn history(conn: &Connection, query: &HistoryQuery) -> Result<CallList, Fault> {
    let mut stmt = conn.prepare_cached(&HISTORY)?;
    let mut rows = stmt.query(params![query.user, query.before, query.limit()])?;
    let mut page = Page::new(query);
    while let Some(row) = rows.next()? {
        if !page.has_room() {
            break;
        }
        let mut call = call_row(row)?.decode()?;
        call.members = members_of(conn, call.seq)?;
        if !page.push(&call) {
            break;
        }
    }
    Ok(page.finish())
}

fn members_of(conn: &Connection, seq: Seq) -> Result<Vec<Member>, Fault> {
    let mut stmt = conn.prepare_cached(&MEMBERS_OF)?;
    let rows = stmt
        .query_map([seq as i64], member_row)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Fault::from(e).in_call(seq as i64))?;
    rows.into_iter().map(MemberRow::decode).collect()
}

fn call_row(r: &Row<'_>) -> rusqlite::Result<CallRow> {
    Ok(CallRow {
        seq: r.get(0)?,
        call_id: r.get(1)?,
        caller: r.get(2)?,
        caller_name: r.get(3)?,
        mode: r.get(4)?,
        state: r.get(5)?,
        create_time: r.get(6)?,
        end_time: r.get(7)?,
        extended_data: r.get(8)?,
        answered: r.get(9)?,
    })
}

fn member_row(r: &Row<'_>) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        seq: r.get(0)?,
        position: r.get(1)?,
        user_id: r.get(2)?,
        state: r.get(3)?,
        reason: r.get(4)?,
        extended_data: r.get(5)?,
        inviter: r.get(6)?,
        update_time: r.get(7)?,
        invite_time: r.get(8)?,
        timeout_secs: r.get(9)?,
        deadline: r.get(10)?,
        invite_data: r.get(11)?,
        push: r.get(12)?,
        device: r.get(13)?,
    })
}

#[cfg(test)]
#[path = "sqlite_wal_tests.rs"]
mod wal_tests;
