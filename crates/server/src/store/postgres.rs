//! The PostgreSQL backend. The writer is one connection on the storage thread that commits
//! a whole group of batches in one transaction of a few round trips (each table gets one
//! multi-row upsert of arrays, whatever the number of calls), and holds the database's
//! advisory lock. History reads go to a fixed set of reading threads, each with a
//! connection of its own.
//!
//! Connections are made without TLS: the database is expected on localhost or a unix
//! socket (see docs/storage.md).
//!
//! The `postgres` crate's blocking client runs a small runtime of its own, which may be
//! neither used nor dropped on an async worker thread: every client here lives and dies on
//! an OS thread of its own, which is also why the read side is threads and a queue rather
//! than a pool whose connections could be dropped anywhere.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use beckon_protocol::CallList;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::{
    column_list, update_set, CallRow, Durability, Fault, HistoryQuery, MemberRow, Page, PgUrl,
    StoreError, CALL_COLUMNS, CALL_UPDATED, HISTORY_DOING, MEMBER_COLUMNS, MEMBER_UPDATED, READERS,
};
use crate::core::{Call, NodeId, Seq};

/// The key of the advisory lock a server holds on its database while it runs: the
/// PostgreSQL counterpart of SQLite's `<db>.lock`. ASCII "beckon". Advisory locks belong
/// to one database, so servers on different databases of one PostgreSQL never meet.
pub const ADVISORY_LOCK_KEY: i64 = 0x6265_636b_6f6e;

/// How long a starting server keeps asking for the advisory lock before it says the
/// database is in use. A server that was just killed holds it until its PostgreSQL
/// backend notices the closed connection, which on a busy machine takes a moment: a
/// supervisor's immediate restart should not fail on that.
const LOCK_GRACE: Duration = Duration::from_secs(3);
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// Used when the URL sets no `connect_timeout`: a database that does not answer stops the
/// start with an error instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Free text a client sends (names and extended data) is BYTEA: PostgreSQL's TEXT cannot
/// hold a NUL character, which JSON allows, and one would fail the commit and stop the
/// server. IDs, enums and the push JSON (escaped by serde) stay TEXT.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    seq           BIGINT PRIMARY KEY,
    call_id       TEXT NOT NULL UNIQUE,
    caller        TEXT NOT NULL,
    caller_name   BYTEA NOT NULL,
    mode          TEXT NOT NULL,
    state         TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    end_time      BIGINT NOT NULL,
    extended_data BYTEA NOT NULL,
    answered      BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(state) WHERE state = 'started';
CREATE TABLE IF NOT EXISTS members (
    seq           BIGINT NOT NULL,
    position      BIGINT NOT NULL,
    user_id       TEXT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT,
    extended_data BYTEA NOT NULL,
    inviter       TEXT NOT NULL,
    update_time   BIGINT NOT NULL,
    invite_time   BIGINT NOT NULL,
    timeout_secs  BIGINT NOT NULL,
    deadline      BIGINT NOT NULL,
    invite_data   BYTEA NOT NULL,
    push          TEXT,
    device        TEXT,
    PRIMARY KEY (seq, user_id)
);
CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id, seq DESC);
";

/// Array types of [`CALL_COLUMNS`] and [`MEMBER_COLUMNS`], in their order, for `UNNEST`.
const CALL_ARRAYS: [&str; 10] = [
    "bigint[]",
    "text[]",
    "text[]",
    "bytea[]",
    "text[]",
    "text[]",
    "bigint[]",
    "bigint[]",
    "bytea[]",
    "boolean[]",
];
const MEMBER_ARRAYS: [&str; 14] = [
    "bigint[]", "bigint[]", "text[]", "text[]", "text[]", "bytea[]", "text[]", "bigint[]",
    "bigint[]", "bigint[]", "bigint[]", "bytea[]", "text[]", "text[]",
];

/// `$1::bigint[], $2::text[], …`.
fn unnest_args(types: &[&str]) -> String {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

static UPSERT_CALLS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO calls ({}) SELECT * FROM UNNEST({})
         ON CONFLICT (seq) DO UPDATE SET {}",
        column_list(&CALL_COLUMNS, None),
        unnest_args(&CALL_ARRAYS),
        update_set(&CALL_UPDATED),
    )
});
static UPSERT_MEMBERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO members ({}) SELECT * FROM UNNEST({})
         ON CONFLICT (seq, user_id) DO UPDATE SET {}",
        column_list(&MEMBER_COLUMNS, None),
        unnest_args(&MEMBER_ARRAYS),
        update_set(MEMBER_UPDATED),
    )
});
static LOAD_CALLS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM calls WHERE state = 'started' OR end_time >= $1 ORDER BY seq",
        column_list(&CALL_COLUMNS, None)
    )
});
static MEMBERS_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM members WHERE seq = ANY($1) ORDER BY seq, position",
        column_list(&MEMBER_COLUMNS, None)
    )
});
/// The same query as SQLite's, so the pages are the same.
static HISTORY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} FROM members m JOIN calls c ON c.seq = m.seq
         WHERE m.user_id = $1 AND m.seq < $2
         ORDER BY m.seq DESC LIMIT $3",
        column_list(&CALL_COLUMNS, Some("c"))
    )
});

fn pg<'a>(db: &'a str, doing: &'static str) -> impl FnOnce(postgres::Error) -> StoreError + 'a {
    move |source| Fault::Postgres(source).at(db, doing)
}

/// Connects to `url`, naming itself so an operator can find it in `pg_stat_activity`.
fn connect(url: &PgUrl, db: &str, doing: &'static str) -> Result<Client, StoreError> {
    let mut config = url.config().clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("beckon-server");
    }
    // A database host that dies mid-commit is noticed in seconds, not hours.
    config
        .keepalives_idle(Duration::from_secs(5))
        .keepalives_interval(Duration::from_secs(1))
        .keepalives_retries(3);
    config.connect(NoTls).map_err(pg(db, doing))
}

/// The writer: owned by the storage thread. Its connection holds the advisory lock, so
/// the lock lasts exactly as long as the server can write.
pub struct Writer {
    client: Client,
    db: String,
    upsert_calls: Statement,
    upsert_members: Statement,
}

/// Takes the database (its advisory lock), creates the tables if missing, and starts the
/// reading threads.
pub fn open(url: &PgUrl, durability: Durability) -> Result<(Writer, Readers), StoreError> {
    let db = url.to_string();
    let mut client = connect(url, &db, "connect")?;
    let give_up = Instant::now() + LOCK_GRACE;
    let locked = loop {
        let locked = try_lock(&mut client, &db)?;
        if locked || Instant::now() >= give_up {
            break locked;
        }
        std::thread::sleep(LOCK_RETRY);
    };
    if !locked {
        return Err(StoreError::Locked {
            holder: format!("its PostgreSQL advisory lock {ADVISORY_LOCK_KEY:#x}"),
            db,
        });
    }
    let writer = Writer::set_up(client, db, durability)?;
    Ok((writer, Readers::start(url)?))
}

fn try_lock(client: &mut Client, db: &str) -> Result<bool, StoreError> {
    let doing = "take the database's advisory lock";
    client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&ADVISORY_LOCK_KEY])
        .map_err(pg(db, doing))?
        .try_get(0)
        .map_err(pg(db, doing))
}

/// How often a cluster node that does not lead asks for the lock again: the longest a
/// take-over waits after PostgreSQL released the lock of a dead leader.
const ELECTION_POLL: Duration = Duration::from_millis(100);

/// A cluster node's hold on the database before it leads: it numbered the node, serves
/// the history reads, and asks for the advisory lock in turn with the other nodes. The
/// holder of the lock is the one node that writes, the leader.
pub struct Candidate {
    client: Client,
    db: String,
}

impl Candidate {
    /// Connects, gives this node a number no other live node has (from a sequence, so a
    /// restarted node gets a new one), and starts the reading threads.
    pub fn connect(url: &PgUrl) -> Result<(Candidate, NodeId, String, Readers), StoreError> {
        let db = url.to_string();
        let mut client = connect(url, &db, "connect")?;
        // This connection holds the lock once the node leads: if the node's machine dies
        // or is cut off, PostgreSQL must notice within seconds and let another node lead,
        // not after the system's default of two hours. (Ignored on a unix socket.)
        client
            .batch_execute(
                "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 1; \
                 SET tcp_keepalives_count = 3",
            )
            .map_err(pg(&db, "configure the connection"))?;
        // Concurrent `CREATE … IF NOT EXISTS` can still collide in PostgreSQL's catalog;
        // starting nodes take turns on a second lock key, held to the end of the transaction.
        let number = (|| {
            let mut tx = client.transaction()?;
            tx.execute("SET LOCAL client_min_messages = warning", &[])?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&(ADVISORY_LOCK_KEY + 1)],
            )?;
            tx.execute("CREATE SEQUENCE IF NOT EXISTS beckon_nodes", &[])?;
            tx.execute("CREATE SEQUENCE IF NOT EXISTS beckon_terms", &[])?;
            tx.execute(
                "CREATE TABLE IF NOT EXISTS beckon_cluster (name TEXT NOT NULL)",
                &[],
            )?;
            let fresh = uuid::Uuid::new_v4().simple().to_string();
            tx.execute(
                "INSERT INTO beckon_cluster (name) SELECT $1 \
                 WHERE NOT EXISTS (SELECT 1 FROM beckon_cluster)",
                &[&fresh],
            )?;
            let name: String = tx
                .query_one("SELECT name FROM beckon_cluster LIMIT 1", &[])?
                .try_get(0)?;
            let n: i64 = tx
                .query_one("SELECT nextval('beckon_nodes')", &[])?
                .try_get(0)?;
            tx.commit()?;
            Ok((n, name))
        })()
        .map_err(pg(&db, "number this node"))?;
        let (number, cluster) = number;
        // 1..=65535: 0 is a server on its own, and the number is 16 bits of a session ID.
        let node = (number - 1).rem_euclid(i64::from(NodeId::MAX)) as NodeId + 1;
        Ok((
            Candidate { client, db },
            node,
            cluster,
            Readers::start(url)?,
        ))
    }

    /// Waits until this node holds the lock, then readies the writer; `None` when `stop`
    /// was set first. Also returns the term: how many elections this database has seen.
    pub fn elect(
        mut self,
        durability: Durability,
        stop: &AtomicBool,
        may_lead: &AtomicBool,
    ) -> Result<Option<(Writer, u64)>, StoreError> {
        // A node that cannot reach the others must not lead: nobody would hear it.
        while !(may_lead.load(Ordering::Relaxed) && try_lock(&mut self.client, &self.db)?) {
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            std::thread::sleep(ELECTION_POLL);
        }
        let doing = "count the election";
        let term: i64 = self
            .client
            .query_one("SELECT nextval('beckon_terms')", &[])
            .map_err(pg(&self.db, doing))?
            .try_get(0)
            .map_err(pg(&self.db, doing))?;
        let writer = Writer::set_up(self.client, self.db, durability)?;
        Ok(Some((writer, term as u64)))
    }
}

impl Writer {
    /// The writer on a connection that holds the lock: tables, settings, statements.
    fn set_up(
        mut client: Client,
        db: String,
        durability: Durability,
    ) -> Result<Writer, StoreError> {
        // `on` waits for the WAL flush of each commit, `off` answers before it: a crashed
        // PostgreSQL may then lose the last commits, but a killed beckon-server loses nothing.
        let sync = match durability {
            Durability::Full => "on",
            Durability::Normal => "off",
        };
        // Notices ("relation already exists, skipping" at every start) would reach the log.
        client
            .batch_execute(&format!(
                "SET synchronous_commit = {sync}; SET client_min_messages = warning"
            ))
            .map_err(pg(&db, "configure the connection"))?;
        client
            .batch_execute(SCHEMA)
            .map_err(pg(&db, "create the tables"))?;
        let doing = "prepare the statements";
        let upsert_calls = client.prepare(&UPSERT_CALLS).map_err(pg(&db, doing))?;
        let upsert_members = client.prepare(&UPSERT_MEMBERS).map_err(pg(&db, doing))?;
        Ok(Writer {
            client,
            db,
            upsert_calls,
            upsert_members,
        })
    }
}

impl Writer {
    pub fn write(&mut self, calls: &[Call]) -> Result<(), StoreError> {
        self.write_calls(calls)
            .map_err(pg(&self.db, "commit a batch of calls"))
    }

    fn write_calls(&mut self, calls: &[Call]) -> Result<(), postgres::Error> {
        let (calls, members) = latest_rows(calls);
        let mut tx = self.client.transaction()?;
        let c = CallArrays::of(&calls);
        tx.execute(
            &self.upsert_calls,
            &[
                &c.seq,
                &c.call_id,
                &c.caller,
                &c.caller_name,
                &c.mode,
                &c.state,
                &c.create_time,
                &c.end_time,
                &c.extended_data,
                &c.answered,
            ],
        )?;
        if !members.is_empty() {
            let m = MemberArrays::of(&members);
            let params: [&(dyn ToSql + Sync); 14] = [
                &m.seq,
                &m.position,
                &m.user_id,
                &m.state,
                &m.reason,
                &m.extended_data,
                &m.inviter,
                &m.update_time,
                &m.invite_time,
                &m.timeout_secs,
                &m.deadline,
                &m.invite_data,
                &m.push,
                &m.device,
            ];
            tx.execute(&self.upsert_members, &params)?;
        }
        tx.commit()
    }

    /// Live calls and those ended at `since` or later, and the next free seq.
    pub fn load(&mut self, since: i64) -> Result<(Vec<Call>, Seq), StoreError> {
        load_calls(&mut self.client, since).map_err(|f| f.at(&self.db, "load the calls to restore"))
    }
}

/// One row per call and per member, the last snapshot of each winning: one upsert
/// statement may not touch a row twice, and applied in order the later one would win.
fn latest_rows(calls: &[Call]) -> (Vec<CallRow<&str>>, Vec<MemberRow<&str>>) {
    let mut call_rows: Vec<CallRow<&str>> = Vec::with_capacity(calls.len());
    let mut member_rows: Vec<MemberRow<&str>> = Vec::new();
    let mut call_at: HashMap<i64, usize> = HashMap::new();
    let mut member_at: HashMap<(i64, &str), usize> = HashMap::new();
    for c in calls {
        let row = CallRow::of(c);
        match call_at.get(&row.seq) {
            Some(&i) => call_rows[i] = row,
            None => {
                call_at.insert(row.seq, call_rows.len());
                call_rows.push(row);
            }
        }
        for (position, m) in c.members.iter().enumerate() {
            let row = MemberRow::of(c, position, m);
            match member_at.get(&(row.seq, &*m.user_id)) {
                Some(&i) => member_rows[i] = row,
                None => {
                    member_at.insert((row.seq, &*m.user_id), member_rows.len());
                    member_rows.push(row);
                }
            }
        }
    }
    (call_rows, member_rows)
}

/// [`CallRow`]s as one array per column, the parameters of the `UNNEST` upsert.
struct CallArrays<'a> {
    seq: Vec<i64>,
    call_id: Vec<&'a str>,
    caller: Vec<&'a str>,
    caller_name: Vec<&'a [u8]>,
    mode: Vec<&'a str>,
    state: Vec<&'a str>,
    create_time: Vec<i64>,
    end_time: Vec<i64>,
    extended_data: Vec<&'a [u8]>,
    answered: Vec<bool>,
}

impl<'a> CallArrays<'a> {
    fn of(rows: &'a [CallRow<&'a str>]) -> CallArrays<'a> {
        CallArrays {
            seq: rows.iter().map(|r| r.seq).collect(),
            call_id: rows.iter().map(|r| r.call_id).collect(),
            caller: rows.iter().map(|r| r.caller).collect(),
            caller_name: rows.iter().map(|r| r.caller_name.as_bytes()).collect(),
            mode: rows.iter().map(|r| r.mode.as_str()).collect(),
            state: rows.iter().map(|r| r.state.as_str()).collect(),
            create_time: rows.iter().map(|r| r.create_time).collect(),
            end_time: rows.iter().map(|r| r.end_time).collect(),
            extended_data: rows.iter().map(|r| r.extended_data.as_bytes()).collect(),
            answered: rows.iter().map(|r| r.answered).collect(),
        }
    }
}

/// [`MemberRow`]s as one array per column.
struct MemberArrays<'a> {
    seq: Vec<i64>,
    position: Vec<i64>,
    user_id: Vec<&'a str>,
    state: Vec<&'a str>,
    reason: Vec<Option<&'a str>>,
    extended_data: Vec<&'a [u8]>,
    inviter: Vec<&'a str>,
    update_time: Vec<i64>,
    invite_time: Vec<i64>,
    timeout_secs: Vec<i64>,
    deadline: Vec<i64>,
    invite_data: Vec<&'a [u8]>,
    push: Vec<Option<&'a str>>,
    device: Vec<Option<&'a str>>,
}

impl<'a> MemberArrays<'a> {
    fn of(rows: &'a [MemberRow<&'a str>]) -> MemberArrays<'a> {
        MemberArrays {
            seq: rows.iter().map(|r| r.seq).collect(),
            position: rows.iter().map(|r| r.position).collect(),
            user_id: rows.iter().map(|r| r.user_id).collect(),
            state: rows.iter().map(|r| r.state.as_str()).collect(),
            reason: rows.iter().map(|r| r.reason.as_deref()).collect(),
            extended_data: rows.iter().map(|r| r.extended_data.as_bytes()).collect(),
            inviter: rows.iter().map(|r| r.inviter).collect(),
            update_time: rows.iter().map(|r| r.update_time).collect(),
            invite_time: rows.iter().map(|r| r.invite_time).collect(),
            timeout_secs: rows.iter().map(|r| r.timeout_secs).collect(),
            deadline: rows.iter().map(|r| r.deadline).collect(),
            invite_data: rows.iter().map(|r| r.invite_data.as_bytes()).collect(),
            push: rows.iter().map(|r| r.push.as_deref()).collect(),
            device: rows.iter().map(|r| r.device).collect(),
        }
    }
}

fn load_calls(client: &mut Client, since: i64) -> Result<(Vec<Call>, Seq), Fault> {
    let max_seq: Option<i64> = client
        .query_one("SELECT MAX(seq) FROM calls", &[])
        .map_err(Fault::Postgres)?
        .try_get(0)
        .map_err(bad)?;
    let rows = client
        .query(LOAD_CALLS.as_str(), &[&since])
        .map_err(Fault::Postgres)?;
    let seqs = rows
        .iter()
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let mut members = members_of(client, &seqs)?;
    let mut calls = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut call = call_row(row)?.decode()?;
        call.members = decode_members(members.remove(&(call.seq as i64)))?;
        calls.push(call);
    }
    Ok((calls, max_seq.unwrap_or(0) as u64 + 1))
}

/// The member rows of the calls `seqs`, by call, in their order in the call. One round
/// trip, however many calls.
fn members_of(client: &mut Client, seqs: &[i64]) -> Result<HashMap<i64, Vec<MemberRow>>, Fault> {
    let mut by_call: HashMap<i64, Vec<MemberRow>> = HashMap::new();
    if seqs.is_empty() {
        return Ok(by_call);
    }
    for row in client
        .query(MEMBERS_OF.as_str(), &[&seqs])
        .map_err(Fault::Postgres)?
    {
        let member = member_row(&row)?;
        by_call.entry(member.seq).or_default().push(member);
    }
    Ok(by_call)
}

fn decode_members(rows: Option<Vec<MemberRow>>) -> Result<Vec<crate::core::Member>, Fault> {
    rows.unwrap_or_default()
        .into_iter()
        .map(MemberRow::decode)
        .collect()
}

/// A column that cannot be read as its type is damaged data, as in SQLite; with this
/// schema it takes a hand-altered table.
fn bad(e: postgres::Error) -> Fault {
    Fault::Bad(e.to_string())
}

fn text(row: &Row, i: usize) -> Result<String, Fault> {
    let bytes: Vec<u8> = row.try_get(i).map_err(bad)?;
    String::from_utf8(bytes).map_err(|e| Fault::Bad(format!("column {i} is not UTF-8: {e}")))
}

fn call_row(r: &Row) -> Result<CallRow, Fault> {
    let seq: i64 = r.try_get(0).map_err(bad)?;
    let row = || -> Result<CallRow, Fault> {
        Ok(CallRow {
            seq,
            call_id: r.try_get(1).map_err(bad)?,
            caller: r.try_get(2).map_err(bad)?,
            caller_name: text(r, 3)?,
            mode: r.try_get(4).map_err(bad)?,
            state: r.try_get(5).map_err(bad)?,
            create_time: r.try_get(6).map_err(bad)?,
            end_time: r.try_get(7).map_err(bad)?,
            extended_data: text(r, 8)?,
            answered: r.try_get(9).map_err(bad)?,
        })
    };
    row().map_err(|e| e.in_call(seq))
}

fn member_row(r: &Row) -> Result<MemberRow, Fault> {
    let seq: i64 = r.try_get(0).map_err(bad)?;
    let row = || -> Result<MemberRow, Fault> {
        Ok(MemberRow {
            seq,
            position: r.try_get(1).map_err(bad)?,
            user_id: r.try_get(2).map_err(bad)?,
            state: r.try_get(3).map_err(bad)?,
            reason: r.try_get(4).map_err(bad)?,
            extended_data: text(r, 5)?,
            inviter: r.try_get(6).map_err(bad)?,
            update_time: r.try_get(7).map_err(bad)?,
            invite_time: r.try_get(8).map_err(bad)?,
            timeout_secs: r.try_get(9).map_err(bad)?,
            deadline: r.try_get(10).map_err(bad)?,
            invite_data: text(r, 11)?,
            push: r.try_get(12).map_err(bad)?,
            device: r.try_get(13).map_err(bad)?,
        })
    };
    row().map_err(|e| e.in_call(seq))
}

/// A history query waiting for a reading thread, and where its answer goes.
struct Job {
    query: HistoryQuery,
    reply: mpsc::SyncSender<Result<CallList, StoreError>>,
}

/// The history query's side: [`READERS`] threads, each with its own connection (made on
/// first use, and again after it breaks), taking queries from one queue. The threads end
/// when the last clone of this is dropped.
#[derive(Clone)]
pub struct Readers {
    jobs: mpsc::Sender<Job>,
    db: Arc<str>,
}

impl Readers {
    fn start(url: &PgUrl) -> Result<Readers, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let db = url.to_string();
        for i in 0..READERS {
            let url = url.clone();
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("beckon-pg-read-{i}"))
                .spawn(move || read_loop(&url, &queue))
                .map_err(|source| StoreError::Io {
                    path: PathBuf::from(&db),
                    doing: "start a reading thread",
                    source,
                })?;
        }
        Ok(Readers {
            jobs,
            db: Arc::from(db),
        })
    }

    /// Blocking: waits for a reading thread's answer.
    pub(super) fn history(&self, query: HistoryQuery) -> Result<CallList, StoreError> {
        let gone = || StoreError::NoReaders {
            db: self.db.to_string(),
            doing: HISTORY_DOING,
        };
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs.send(Job { query, reply }).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

fn read_loop(url: &PgUrl, queue: &Mutex<mpsc::Receiver<Job>>) {
    let db = url.to_string();
    let mut client: Option<Client> = None;
    loop {
        let job = match queue.lock() {
            Ok(queue) => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let answer = read(url, &db, &mut client, &job.query);
        let _ = job.reply.send(answer);
    }
}

fn read(
    url: &PgUrl,
    db: &str,
    client: &mut Option<Client>,
    query: &HistoryQuery,
) -> Result<CallList, StoreError> {
    let conn = match client {
        Some(c) if !c.is_closed() => c,
        _ => client.insert(connect(url, db, "connect for reading the call history")?),
    };
    history(conn, query).map_err(|f| f.at(db, HISTORY_DOING))
}

/// Two round trips: the page's calls (one more than asked, as in SQLite), then the
/// members of all of them. Rows are decoded only as far as the page goes, so a damaged
/// call past its end does not spoil it, exactly as with SQLite.
fn history(client: &mut Client, query: &HistoryQuery) -> Result<CallList, Fault> {
    let rows = client
        .query(
            HISTORY.as_str(),
            &[&query.user, &query.before, &query.limit()],
        )
        .map_err(Fault::Postgres)?;
    let seqs = rows
        .iter()
        .take(query.count as usize)
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let mut members = members_of(client, &seqs)?;
    let mut page = Page::new(query);
    for row in &rows {
        if !page.has_room() {
            break;
        }
        let mut call = call_row(row)?.decode()?;
        call.members = decode_members(members.remove(&(call.seq as i64)))?;
        if !page.push(&call) {
            break;
        }
    }
    Ok(page.finish())
}
