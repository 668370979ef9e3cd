//! The database as an operator meets it: one server per file, private files, failures that
//! stop the server cleanly and say which file and which step, damaged rows reported as such.
//! The same on PostgreSQL: one server per database, errors that name it without its
//! password, damaged rows reported as such.
//!
//! These tests pick their backend themselves, whatever `BECKON_TEST_DB` says: the SQLite
//! ones look at the file, its lock and its permissions, which PostgreSQL does not have,
//! and the PostgreSQL ones need a database of their own.

mod common;

use beckon_client::Requests;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use beckon_client::{ClosedBy, WireClient};
use beckon_protocol::*;
use beckon_server::store::{Database, StoreError};
use beckon_server::{Config, RunError};
use beckon_testkit::postgres::{fresh_database, PgServer};
use common::*;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const BIN: &str = env!("CARGO_BIN_EXE_beckon-server");

/// `run()` in this process, with its result kept for the test to look at.
struct Run {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RunError>>,
}

impl Run {
    async fn start(db: &Path) -> Run {
        Run::start_on(Database::Sqlite(db.to_path_buf())).await
    }

    async fn start_on(db: Database) -> Run {
        let listener = beckon_server::listener::bind(([127, 0, 0, 1], 0).into()).unwrap();
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        let config = Config::for_tests(db);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(beckon_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        Run {
            url,
            stop: Some(stop),
            task,
        }
    }

    /// Started, and serving: a client logged in.
    async fn serving(db: &Path) -> Run {
        Run::serving_on(Database::Sqlite(db.to_path_buf())).await
    }

    async fn serving_on(db: Database) -> Run {
        let run = Run::start_on(db).await;
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((client, _events)) = WireClient::connect(&run.url).await {
                client.login("probe", "Probe", None, None).await.unwrap();
                client.close().await;
                return run;
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What `run()` returned, waiting at most `WAIT` for it.
    async fn result(self) -> Result<(), RunError> {
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("run() must return")
            .unwrap()
    }

    async fn stop(mut self) -> Result<(), RunError> {
        let _ = self.stop.take().unwrap().send(());
        self.result().await
    }
}

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("beckon.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let first = Run::serving(&db).await;

    let err = Run::start(&db).await.result().await.unwrap_err();
    assert!(
        matches!(err, RunError::Store(StoreError::Locked { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("in use by another beckon-server"), "{text}");
    // The first one was not disturbed.
    login_at(&first.url, "alice").await;

    first.stop().await.unwrap();
    let second = Run::serving(&db).await;
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_a_database_in_use_with_a_message_and_exit_75() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let first = Run::serving(&db).await;

    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--auth", "open", "--db"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the second server did not give up");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(75), "{stderr}");
    let lock = format!("{}.lock", db.display());
    assert!(
        stderr.contains("in use by another beckon-server"),
        "{stderr}"
    );
    assert!(stderr.contains(&lock), "{stderr}");
    first.stop().await.unwrap();
}

/// What `user` is told before the socket closes, and every event before it.
async fn closed_reason(user: &mut User) -> (CloseReason, Vec<ServerMessage>) {
    let mut before = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match user.events.next_timeout(left).await {
            Some(ServerMessage::SessionClosed(c)) => return (c.reason, before),
            Some(e) => before.push(e),
            None => panic!("{}: no sessionClosed within {WAIT:?}", user.id),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_stops_the_server_and_tells_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let run = Run::serving(&db).await;
    let mut alice = login_at(&run.url, "alice").await;
    let mut bob = login_at(&run.url, "bob").await;

    // A real SQLite failure on the writer's next insert, from outside the server.
    let sql = rusqlite::Connection::open(&db).unwrap();
    sql.execute_batch(
        "CREATE TRIGGER fail BEFORE INSERT ON calls
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();

    let invite = alice
        .client
        .call_invite(invite(&["bob"], CallMode::Normal, 60))
        .await;
    assert!(
        matches!(invite, Err(beckon_client::WireError::Closed(_))),
        "an invitation that was not stored must not be answered: {invite:?}"
    );
    for user in [&mut alice, &mut bob] {
        let (reason, before) = closed_reason(user).await;
        assert_eq!(reason, CloseReason::StorageFailed, "{}", user.id);
        assert!(
            !before
                .iter()
                .any(|e| matches!(e, ServerMessage::CallInvitationReceived(_))),
            "{}: told of a call that was never stored: {before:?}",
            user.id
        );
        let by = tokio::time::timeout(WAIT, user.client.closed())
            .await
            .expect("closed");
        assert_eq!(
            by,
            ClosedBy::Server {
                code: Some(1011),
                reason: String::new()
            },
            "{}",
            user.id
        );
    }

    let err = run.result().await.unwrap_err();
    let RunError::Store(store) = &err else {
        panic!("{err:?}")
    };
    assert!(!store.is_corrupt(), "{store}");
    let text = err.to_string();
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("commit"), "{text}");
    assert!(text.contains("injected failure"), "{text}");

    // After a restart: the unanswered call never happened.
    sql.execute_batch("DROP TRIGGER fail").unwrap();
    let run = Run::serving(&db).await;
    let alice = login_at(&run.url, "alice").await;
    let list = alice.client.query_call_list(10, 0).await.unwrap();
    assert!(list.call_list.is_empty(), "{list:?}");
    run.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_errors_name_the_file_and_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    std::fs::write(&db, vec![b'x'; 8192]).unwrap();
    let err = Run::start(&db).await.result().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("{}: cannot ", db.display())),
        "{text}"
    );
    assert!(text.contains("not a database"), "{text}");
    let RunError::Store(store) = &err else {
        panic!("{err:?}")
    };
    assert!(store.is_corrupt(), "{store}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = Run::start(&file.join("beckon.db"))
        .await
        .result()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("{}: cannot create the directory", file.display())),
        "{text}"
    );
    assert!(!text.contains("corrupt"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_call_in_the_history_is_not_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let run = Run::serving(&db).await;
    let alice = login_at(&run.url, "alice").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 60).await;
    // The answer came after the commit; the server never rewrites a call's mode.
    let sql = rusqlite::Connection::open(&db).unwrap();
    let n = sql
        .execute(
            "UPDATE calls SET mode = 'sideways' WHERE call_id = ?1",
            [&sent.call_id],
        )
        .unwrap();
    assert_eq!(n, 1);

    history_says_damaged(&alice).await;
    run.stop().await.unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let run = Run::serving(&db).await;
    let alice = login_at(&run.url, "alice").await;
    alice.invite(&["bob"], CallMode::Normal, 60).await;
    let mut files = vec![db.clone()];
    for suffix in ["-wal", "-shm", ".lock"] {
        files.push(PathBuf::from(format!("{}{suffix}", db.display())));
    }
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
    run.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_postgres_database_refuses_to_start() {
    let url = fresh_database();
    let first = Run::serving_on(Database::Postgres(url.clone())).await;

    let err = Run::start_on(Database::Postgres(url.clone()))
        .await
        .result()
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunError::Store(StoreError::Locked { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&url.to_string()), "{text}");
    assert!(text.contains("in use by another beckon-server"), "{text}");
    assert!(text.contains("advisory lock"), "{text}");
    // The first one was not disturbed.
    login_at(&first.url, "alice").await;

    // Its lock goes with it: the next server starts.
    first.stop().await.unwrap();
    let second = Run::serving_on(Database::Postgres(url)).await;
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_is_named_without_its_password() {
    // A port nothing listens on.
    let port = free_port("127.0.0.1");
    let url = format!("postgres://beckon:s3cret@127.0.0.1:{port}/beckon");
    let shown = format!("postgres://beckon:***@127.0.0.1:{port}/beckon");
    let db: Database = url.parse().unwrap();
    let err = Run::start_on(db).await.result().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{shown}: cannot connect")), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");

    // The binary's last line, its log and its exit code say the same.
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--auth", "open", "--db", &url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(70), "{printed}");
    assert!(
        printed.contains(&format!("{shown}: cannot connect")),
        "{printed}"
    );
    assert!(!printed.contains("s3cret"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_calls_in_postgres_are_reported_as_damaged() {
    let url = fresh_database();
    let run = Run::serving_on(Database::Postgres(url.clone())).await;
    let alice = login_at(&run.url, "alice").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 60).await;
    let call_id = sent.call_id.clone();
    let n = PgServer::on(&url, move |c| {
        c.execute(
            "UPDATE calls SET mode = 'sideways' WHERE call_id = $1",
            &[&call_id],
        )
    })
    .unwrap();
    assert_eq!(n, 1);

    history_says_damaged(&alice).await;
    run.stop().await.unwrap();

    // The call is live, so a restart must load it, and cannot.
    let err = Run::start_on(Database::Postgres(url))
        .await
        .result()
        .await
        .unwrap_err();
    let RunError::Store(store) = &err else {
        panic!("{err:?}")
    };
    assert!(store.is_corrupt(), "{store}");
    let text = err.to_string();
    assert!(text.contains("load the calls to restore"), "{text}");
    assert!(text.contains("calls.mode holds `sideways`"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_on_postgres_stops_the_server_unanswered() {
    let url = fresh_database();
    let run = Run::serving_on(Database::Postgres(url.clone())).await;
    let mut alice = login_at(&run.url, "alice").await;

    // A real PostgreSQL failure on the writer's next insert, from outside the server.
    PgServer::on(&url, |c| {
        c.batch_execute(
            "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
             CREATE TRIGGER fail BEFORE INSERT ON calls
               FOR EACH ROW EXECUTE FUNCTION fail();",
        )
    })
    .unwrap();
    let invite = alice
        .client
        .call_invite(invite(&["bob"], CallMode::Normal, 60))
        .await;
    assert!(
        matches!(invite, Err(beckon_client::WireError::Closed(_))),
        "an invitation that was not stored must not be answered: {invite:?}"
    );
    let (reason, _) = closed_reason(&mut alice).await;
    assert_eq!(reason, CloseReason::StorageFailed);
    let err = run.result().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("commit a batch of calls"), "{text}");
    assert!(text.contains("injected failure"), "{text}");
}

/// Client text PostgreSQL's TEXT could not hold (a NUL) is stored and read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_any_text_a_client_sends() {
    let url = fresh_database();
    let run = Run::serving_on(Database::Postgres(url)).await;
    let (client, _events) = WireClient::connect(&run.url).await.unwrap();
    client
        .login("alice", "Al\0ice \u{e9}", None, Some("alice-1".into()))
        .await
        .unwrap();
    let mut inv = invite(&["bob"], CallMode::Normal, 60);
    inv.extended_data = "nul:\0 end".into();
    let sent = client.call_invite(inv).await.unwrap();
    let list = client.query_call_list(10, 0).await.unwrap();
    let call = &list.call_list[0];
    assert_eq!(call.call_id, sent.call_id);
    assert_eq!(call.extended_data, "nul:\0 end");
    assert_eq!(call.caller_name, "Al\0ice \u{e9}");
    run.stop().await.unwrap();
}

/// Asking twice gets the same answer: damaged data, not worth retrying.
async fn history_says_damaged(user: &User) {
    for _ in 0..2 {
        let err = user.client.query_call_list(10, 0).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::StoredDataCorrupt), "{err}");
        assert!(!err.is_retryable(), "{err}");
    }
}
