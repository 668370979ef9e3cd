//! Storage: the durable copy of every call, in an embedded SQLite file (the default) or a
//! PostgreSQL database. The rest of the server sees one shape whatever the backend: a
//! [`Writer`] owned by the storage thread that commits a group of the hub's batches at a
//! time (`write`, and `load` at start), and a cloneable [`ReadPool`] for the history query.
//!
//! Both backends keep the same tables and columns, store enums as their wire names, and
//! map rows to calls here, so a call reads back the same from either and the history
//! pages are the same, call for call. See docs/storage.md for what each one guarantees.

mod database;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use beckon_protocol::{CallInfo, CallList, CallMode, CallState, CallUserState, StateReason};
use serde::de::DeserializeOwned;

use crate::core::{Call, Invite, Member, Seq};

pub use self::database::{redact, Database, DbUrlError, PgUrl};
pub use self::postgres::{Candidate, ADVISORY_LOCK_KEY};

/// Every storage error names the database (a file, or a URL without its password) and the
/// step that failed, so an operator reading the log or the binary's last line knows where
/// to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "{db} is in use by another beckon-server (it holds {holder}); \
         stop that server first, or give this one another --db"
    )]
    Locked { db: String, holder: String },
    #[error("{path}: cannot {doing}: {source}")]
    Io {
        path: PathBuf,
        doing: &'static str,
        source: std::io::Error,
    },
    #[error("{db}: cannot {doing}: {source}")]
    Sqlite {
        db: String,
        doing: &'static str,
        source: rusqlite::Error,
    },
    #[error("{db}: cannot {doing}: {}", with_causes(.source))]
    Postgres {
        db: String,
        doing: &'static str,
        source: ::postgres::Error,
    },
    #[error("{db}: cannot {doing}: no reading connection: {source}")]
    Pool {
        db: String,
        doing: &'static str,
        source: r2d2::Error,
    },
    /// The reading threads are gone: only after one panicked.
    #[error("{db}: cannot {doing}: the reading connections are gone")]
    NoReaders { db: String, doing: &'static str },
    /// Stored data that cannot be read back. Asking again gives the same answer.
    #[error("{db}: cannot {doing}: damaged data: {detail}")]
    Corrupt {
        db: String,
        doing: &'static str,
        detail: String,
    },
}

/// `e` and what caused it: the `postgres` crate's errors say only their kind ("db error")
/// and keep the server's message, or the socket's error, as their source.
pub(super) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl StoreError {
    /// Whether the failure is in the stored data itself: no retry can succeed until the
    /// operator repairs the database.
    pub fn is_corrupt(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            StoreError::Postgres { source, .. } => matches!(
                source.code(),
                Some(c) if *c == ::postgres::error::SqlState::DATA_CORRUPTED
                    || *c == ::postgres::error::SqlState::INDEX_CORRUPTED
            ),
            _ => false,
        }
    }
}

/// A failure before it is known which step it belongs to.
pub(crate) enum Fault {
    Sqlite(rusqlite::Error),
    Postgres(::postgres::Error),
    Bad(String),
}

impl Fault {
    pub(crate) fn at(self, db: &str, doing: &'static str) -> StoreError {
        let db = db.to_string();
        match self {
            Fault::Sqlite(source) => StoreError::Sqlite { db, doing, source },
            Fault::Postgres(source) => StoreError::Postgres { db, doing, source },
            Fault::Bad(detail) => StoreError::Corrupt { db, doing, detail },
        }
    }

    fn in_call(self, seq: i64) -> Fault {
        match self {
            Fault::Bad(detail) => Fault::Bad(format!("call {seq}: {detail}")),
            e => e,
        }
    }
}

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Every commit is on disk before it is answered: nothing answered is lost, even on
    /// power loss (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`).
    Full,
    /// Survives a killed server, not a power cut or an OS crash; faster (SQLite
    /// `synchronous=NORMAL` in WAL mode, PostgreSQL `synchronous_commit=off`).
    Normal,
}

/// History queries that may run at once: the read connections each backend keeps.
pub const READERS: u32 = 4;

/// The writer: owned by the storage thread.
pub enum Writer {
    Sqlite(sqlite::Writer),
    Postgres(Box<postgres::Writer>),
}

/// The history query's connections; cheap to clone, and safe to drop on any thread.
#[derive(Clone)]
pub enum ReadPool {
    Sqlite(sqlite::ReadPool),
    Postgres(postgres::Readers),
}

/// What a backend runs beside the writer, and the hold that keeps a second server off the
/// same database. Finished after the writer's last commit.
pub struct Keeper {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    _lock: Option<sqlite::DbLock>,
}

impl Keeper {
    /// Stops the background work (a last SQLite checkpoint) and releases the lock.
    pub fn finish(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// An open database: blocking calls, so open it on the thread that will own the writer.
pub struct Opened {
    pub writer: Writer,
    pub reads: ReadPool,
    pub keeper: Keeper,
}

/// Takes the database for this server alone (or says which server has it), creates the
/// tables if missing, and opens the writer and the reading connections.
pub fn open(db: &Database, durability: Durability) -> Result<Opened, StoreError> {
    match db {
        Database::Sqlite(path) => {
            let lock = sqlite::lock(path)?;
            let (writer, reads) = sqlite::open(path, durability)?;
            let stop = Arc::new(AtomicBool::new(false));
            let checkpointer = sqlite::Checkpointer::open(path, &writer, Default::default())?
                .spawn(path, stop.clone())?;
            Ok(Opened {
                writer: Writer::Sqlite(writer),
                reads: ReadPool::Sqlite(reads),
                keeper: Keeper {
                    stop,
                    threads: vec![checkpointer],
                    _lock: Some(lock),
                },
            })
        }
        Database::Postgres(url) => {
            let (writer, reads) = postgres::open(url, durability)?;
            Ok(Opened {
                writer: Writer::Postgres(Box::new(writer)),
                reads: ReadPool::Postgres(reads),
                keeper: Keeper {
                    stop: Arc::new(AtomicBool::new(false)),
                    threads: Vec::new(),
                    _lock: None,
                },
            })
        }
    }
}

/// What a cluster node gets from its database on joining.
pub struct Joined {
    pub node: crate::core::NodeId,
    /// The cluster's name, made once by its first node: what keeps clusters that share
    /// a NATS apart.
    pub cluster: String,
    /// The history reads, served whether or not this node leads.
    pub reads: ReadPool,
}

/// A cluster node's hold on its PostgreSQL database.
pub fn candidate(url: &PgUrl) -> Result<(Candidate, Joined), StoreError> {
    let (candidate, node, cluster, readers) = Candidate::connect(url)?;
    let joined = Joined {
        node,
        cluster,
        reads: ReadPool::Postgres(readers),
    };
    Ok((candidate, joined))
}

/// Waits for `candidate`'s turn to lead (asking only while `may_lead` is set), then the
/// writer as [`open`] gives it and the election's term; `None` once `stop` is set.
pub fn elect(
    candidate: Candidate,
    durability: Durability,
    stop: &AtomicBool,
    may_lead: &AtomicBool,
) -> Result<Option<(Writer, u64)>, StoreError> {
    Ok(candidate
        .elect(durability, stop, may_lead)?
        .map(|(w, term)| (Writer::Postgres(Box::new(w)), term)))
}

impl Writer {
    /// Upserts every call snapshot in one transaction; returns once it is durable. Later
    /// snapshots of the same call win.
    pub fn write(&mut self, calls: &[Call]) -> Result<(), StoreError> {
        match self {
            Writer::Sqlite(w) => w.write(calls),
            Writer::Postgres(w) => w.write(calls),
        }
    }

    /// Upkeep between commits, off the answers' path (SQLite: finishing a long WAL so the
    /// next commit starts it over; PostgreSQL: none, its server does its own).
    pub fn maintain(&mut self) {
        match self {
            Writer::Sqlite(w) => w.maintain(),
            Writer::Postgres(_) => {}
        }
    }

    /// Calls the hub must hold after a restart: every live one, and those that ended less
    /// than `retention_ms` ago (so late requests on them still get precise answers); and
    /// the next free seq.
    pub fn load(&mut self, now: u64, retention_ms: u64) -> Result<(Vec<Call>, Seq), StoreError> {
        let since = now.saturating_sub(retention_ms) as i64;
        match self {
            Writer::Sqlite(w) => w.load(since),
            Writer::Postgres(w) => w.load(since),
        }
    }
}

/// The history query: calls `user` is a member of, newest first, `count` at most, before
/// `next_flag` (a call seq; 0 means from the newest). The page ends early, with a
/// `next_flag` to go on, before its JSON would pass `max_bytes` (the first call is always
/// included). Blocking.
pub fn query_calls(
    pool: &ReadPool,
    user: &str,
    count: u32,
    next_flag: u64,
    max_bytes: usize,
) -> Result<CallList, StoreError> {
    let query = HistoryQuery {
        user: user.to_string(),
        before: if next_flag == 0 {
            i64::MAX
        } else {
            next_flag as i64
        },
        count,
        max_bytes,
    };
    match pool {
        ReadPool::Sqlite(p) => p.history(&query),
        ReadPool::Postgres(p) => p.history(query),
    }
}

pub(crate) const HISTORY_DOING: &str = "read the call history";

pub(crate) struct HistoryQuery {
    pub user: String,
    /// Calls with a smaller seq only.
    pub before: i64,
    pub count: u32,
    pub max_bytes: usize,
}

impl HistoryQuery {
    /// Rows to ask for: one more than the page, which tells whether another page exists.
    pub fn limit(&self) -> i64 {
        i64::from(self.count) + 1
    }
}

/// A history page being filled, the same way by both backends: calls are taken one at a
/// time, in the database's order, and only those that fit are decoded.
pub(crate) struct Page {
    list: Vec<CallInfo>,
    count: usize,
    max_bytes: usize,
    /// The answer's envelope, then each call and its comma.
    bytes: usize,
    last_seq: Seq,
    more: bool,
}

impl Page {
    pub fn new(query: &HistoryQuery) -> Page {
        Page {
            list: Vec::new(),
            count: query.count as usize,
            max_bytes: query.max_bytes,
            bytes: 128,
            last_seq: 0,
            more: false,
        }
    }

    /// Whether a further row belongs on this page; called for each row the query returns,
    /// before it is decoded.
    pub fn has_room(&mut self) -> bool {
        if self.list.len() == self.count {
            self.more = true;
        }
        !self.more
    }

    /// Adds `call` unless its JSON would pass the byte bound; false when the page is full.
    pub fn push(&mut self, call: &Call) -> bool {
        let info = call.info();
        let size = json_len(&info) + 1;
        if !self.list.is_empty() && self.bytes + size > self.max_bytes {
            self.more = true;
            return false;
        }
        self.bytes += size;
        self.last_seq = call.seq;
        self.list.push(info);
        true
    }

    pub fn finish(self) -> CallList {
        CallList {
            call_list: self.list,
            next_flag: if self.more { self.last_seq } else { 0 },
        }
    }
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

/// The `calls` columns, in the order [`CallRow`] holds them.
pub(crate) const CALL_COLUMNS: [&str; 10] = [
    "seq",
    "call_id",
    "caller",
    "caller_name",
    "mode",
    "state",
    "create_time",
    "end_time",
    "extended_data",
    "answered",
];
/// What a later snapshot of a call changes: the rest never changes once stored.
pub(crate) const CALL_UPDATED: [&str; 3] = ["state", "end_time", "answered"];
/// The `members` columns, in the order [`MemberRow`] holds them.
pub(crate) const MEMBER_COLUMNS: [&str; 14] = [
    "seq",
    "position",
    "user_id",
    "state",
    "reason",
    "extended_data",
    "inviter",
    "update_time",
    "invite_time",
    "timeout_secs",
    "deadline",
    "invite_data",
    "push",
    "device",
];
/// What a later snapshot of a member changes: all but its key and its place in the call,
/// which are the first three columns.
pub(crate) const MEMBER_UPDATED: &[&str] = MEMBER_COLUMNS.split_at(3).1;

/// `a.x, a.y, …` (or `x, y, …` with no alias).
pub(crate) fn column_list(columns: &[&str], alias: Option<&str>) -> String {
    columns
        .iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.{c}"),
            None => (*c).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `x = excluded.x, …`: an upsert's update, in the syntax both databases share.
pub(crate) fn update_set(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `calls` row as both databases store it. Its text borrows from the call when it is
/// written (`S = &str`: a commit copies no strings) and owns it when it is read.
pub(crate) struct CallRow<S = String> {
    pub seq: i64,
    pub call_id: S,
    pub caller: S,
    pub caller_name: S,
    pub mode: String,
    pub state: String,
    pub create_time: i64,
    pub end_time: i64,
    pub extended_data: S,
    pub answered: bool,
}

/// A `members` row as both databases store it, borrowing or owning as [`CallRow`] does.
pub(crate) struct MemberRow<S = String> {
    pub seq: i64,
    pub position: i64,
    pub user_id: S,
    pub state: String,
    pub reason: Option<String>,
    pub extended_data: S,
    pub inviter: S,
    pub update_time: i64,
    pub invite_time: i64,
    pub timeout_secs: i64,
    pub deadline: i64,
    pub invite_data: S,
    /// The push payload as JSON.
    pub push: Option<String>,
    pub device: Option<S>,
}

impl<'a> CallRow<&'a str> {
    pub fn of(c: &'a Call) -> Self {
        CallRow {
            seq: c.seq as i64,
            call_id: &c.id,
            caller: &c.caller,
            caller_name: &c.caller_name,
            mode: enum_str(&c.mode),
            state: enum_str(&c.state),
            create_time: c.create_time as i64,
            end_time: c.end_time as i64,
            extended_data: &c.extended_data,
            answered: c.answered,
        }
    }
}

impl CallRow {
    /// The call, without its members.
    pub fn decode(self) -> Result<Call, Fault> {
        let seq = self.seq;
        let mode: CallMode = parse_enum("calls.mode", &self.mode).map_err(|e| e.in_call(seq))?;
        let state: CallState =
            parse_enum("calls.state", &self.state).map_err(|e| e.in_call(seq))?;
        Ok(Call {
            seq: seq as u64,
            id: self.call_id.into(),
            caller: self.caller.into(),
            caller_name: self.caller_name.into(),
            mode,
            state,
            create_time: self.create_time as u64,
            end_time: self.end_time as u64,
            extended_data: self.extended_data.into(),
            answered: self.answered,
            members: Vec::new(),
        })
    }
}

impl<'a> MemberRow<&'a str> {
    pub fn of(c: &Call, position: usize, m: &'a Member) -> Self {
        MemberRow {
            seq: c.seq as i64,
            position: position as i64,
            user_id: &m.user_id,
            state: m.state.as_str().to_string(),
            reason: m.reason.as_ref().map(enum_str),
            extended_data: &m.extended_data,
            inviter: &m.inviter,
            update_time: m.update_time as i64,
            invite_time: m.invite.time as i64,
            timeout_secs: i64::from(m.invite.timeout_secs),
            deadline: m.invite.deadline as i64,
            invite_data: &m.invite.extended_data,
            push: m
                .invite
                .push
                .as_ref()
                .map(|p| serde_json::to_string(p).unwrap_or_default()),
            device: m.device.as_deref(),
        }
    }
}

impl MemberRow {
    pub fn decode(self) -> Result<Member, Fault> {
        let seq = self.seq;
        let bad = |e: Fault| e.in_call(seq);
        let state = parse_enum::<CallUserState>("members.state", &self.state).map_err(bad)?;
        let reason = self
            .reason
            .map(|r| parse_enum::<StateReason>("members.reason", &r))
            .transpose()
            .map_err(bad)?;
        let push = self
            .push
            .map(|p| {
                serde_json::from_str(&p)
                    .map_err(|e| Fault::Bad(format!("members.push is not valid JSON: {e}")))
            })
            .transpose()
            .map_err(bad)?
            .map(Box::new);
        let timeout_secs = u32::try_from(self.timeout_secs).map_err(|_| {
            bad(Fault::Bad(format!(
                "members.timeout_secs holds {}, which is out of range",
                self.timeout_secs
            )))
        })?;
        Ok(Member {
            user_id: self.user_id.into(),
            state,
            reason,
            extended_data: self.extended_data.into(),
            inviter: self.inviter.into(),
            update_time: self.update_time as u64,
            invite: Invite {
                time: self.invite_time as u64,
                timeout_secs,
                deadline: self.deadline as u64,
                extended_data: self.invite_data.into(),
                push,
            },
            device: self.device.map(Arc::from),
        })
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

/// The file an SQLite database is named by, for the directory beside it.
pub(crate) fn io<'a>(
    path: &'a Path,
    doing: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        doing,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://beckon:s3cret@db.example:5432/calls",
                "postgres://beckon:***@db.example:5432/calls",
            ),
            (
                "postgresql://beckon@localhost/calls?password=s3cret&sslmode=disable",
                "postgresql://beckon@localhost/calls?password=***&sslmode=disable",
            ),
            ("postgres://u:p%40ss@h1,h2/db", "postgres://u:***@h1,h2/db"),
            ("postgres://localhost", "postgres://localhost"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            let db: Database = url.parse().unwrap();
            assert_eq!(db.to_string(), shown);
            assert!(!format!("{db:?}").contains("s3cret"), "{db:?}");
        }
    }

    #[test]
    fn the_db_flag_is_a_url_or_a_path() {
        assert!(matches!(
            "postgres://u@localhost/beckon".parse::<Database>(),
            Ok(Database::Postgres(_))
        ));
        assert!(matches!(
            "PostgreSQL://u@localhost/beckon".parse::<Database>(),
            Ok(Database::Postgres(_))
        ));
        assert_eq!(
            "/var/lib/beckon/beckon.db".parse::<Database>().unwrap(),
            Database::Sqlite("/var/lib/beckon/beckon.db".into())
        );
        assert_eq!(
            "postgres.db".parse::<Database>().unwrap(),
            Database::Sqlite("postgres.db".into())
        );
        let e = "postgres://u:s3cret@localhost/beckon?sslmode=sideways"
            .parse::<Database>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid PostgreSQL URL"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
