//! SQLite storage: the durable copy of every call. The hub's batches are written by one
//! connection in one transaction each (group commit: one fsync for many requests), and
//! the history query reads through a small pool of read-only connections, which WAL mode
//! lets run beside the writer.

use std::path::Path;

use beckon_protocol::{CallInfo, CallList, CallMode, CallState, CallUserState, StateReason};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;

use crate::core::{Call, Invite, Member, Seq};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
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
}

pub type ReadPool = r2d2::Pool<SqliteConnectionManager>;

/// Read-only connections in the pool, so history queries that may run at once.
pub const READERS: u32 = 4;

/// Opens (creating if needed) the database and returns the writer and a read pool.
pub fn open(path: &Path, durability: Durability) -> Result<(Writer, ReadPool), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Corrupt(format!("cannot create {}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Checkpoints run on their own connection (see `spawn_checkpointer`): inside a commit
    // they would stall every answer waiting on that commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.execute_batch(SCHEMA)?;
    let manager = SqliteConnectionManager::file(path).with_init(|c| {
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        c.pragma_update(None, "query_only", true)
    });
    let pool = r2d2::Pool::builder().max_size(READERS).build(manager)?;
    Ok((Writer { conn }, pool))
}

/// Copies the WAL back into the database file every `every`, beside the writer (a PASSIVE
/// checkpoint never blocks it), until `stop` is set.
pub fn spawn_checkpointer(
    path: &Path,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let handle = std::thread::Builder::new()
        .name("beckon-checkpoint".into())
        .spawn(move || {
            use std::sync::atomic::Ordering;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                }
            }
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        })
        .map_err(|e| StoreError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(handle)
}

impl Writer {
    /// Upserts every call snapshot in one transaction; returns once it is durable.
    pub fn write(&mut self, calls: &[Call]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
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
        tx.commit()?;
        Ok(())
    }

    /// Calls the hub must hold after a restart: every live one, and those that ended less
    /// than `retention_ms` ago (so late requests on them still get precise answers).
    pub fn load(&self, now: u64, retention_ms: u64) -> Result<(Vec<Call>, Seq), StoreError> {
        let max_seq: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM calls", [], |r| r.get(0))
            .optional()?
            .flatten();
        let since = now.saturating_sub(retention_ms) as i64;
        let mut stmt = self.conn.prepare(
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
            call.members = members_of(&self.conn, call.seq)?;
        }
        Ok((calls, max_seq.unwrap_or(0) as u64 + 1))
    }
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
    let conn = pool.get()?;
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
        call.members = members_of(&conn, call.seq)?;
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

fn members_of(conn: &Connection, seq: Seq) -> Result<Vec<Member>, StoreError> {
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
    let mut out = Vec::new();
    for row in rows {
        let (state, reason, push, mut m) = row?;
        m.state = parse_enum::<CallUserState>(&state)?;
        m.reason = reason.map(|r| parse_enum::<StateReason>(&r)).transpose()?;
        m.invite.push = push
            .map(|p| serde_json::from_str(&p).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?;
        out.push(m);
    }
    Ok(out)
}

fn call_row(r: &Row<'_>) -> rusqlite::Result<Result<Call, StoreError>> {
    let mode: String = r.get(4)?;
    let state: String = r.get(5)?;
    let build = |mode: CallMode, state: CallState| -> rusqlite::Result<Call> {
        Ok(Call {
            seq: r.get::<_, i64>(0)? as u64,
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
    match (parse_enum(&mode), parse_enum(&state)) {
        (Ok(mode), Ok(state)) => build(mode, state).map(Ok),
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

fn parse_enum<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| StoreError::Corrupt(format!("`{s}`: {e}")))
}
