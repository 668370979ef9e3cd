//! The `beckon` binary as a person or a script uses it: real processes against a real
//! server on a real socket, judged by what they print and how they exit.
//!
//! Every wait is bounded, so a broken build fails instead of hanging; no assertion is
//! about how long something took.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use beckon_server::auth::AuthMode;
use beckon_testkit::TestServer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;

/// Long enough for a loaded two-core machine; only reached when something is broken.
const WAIT: Duration = Duration::from_secs(30);

async fn server() -> TestServer {
    TestServer::start().await
}

async fn server_with(auth: AuthMode) -> TestServer {
    TestServer::start_with(|c| c.auth = auth).await
}

/// A running `beckon`. Its stdin stays open (and silent) until it is dropped, as a
/// terminal nobody types into.
struct Beckon {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: watch::Receiver<String>,
    stderr: watch::Receiver<String>,
    done: Arc<tokio::sync::Semaphore>,
}

struct Exited {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Beckon {
    fn start(url: &str, args: &[&str]) -> Beckon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_beckon"));
        for var in [
            "BECKON_USER",
            "BECKON_NAME",
            "BECKON_TOKEN",
            "BECKON_DEVICE",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(args)
            .env("BECKON_SERVER", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the beckon binary starts");
        let done = Arc::new(tokio::sync::Semaphore::new(0));
        let stdout = collect(child.stdout.take().unwrap(), done.clone());
        let stderr = collect(child.stderr.take().unwrap(), done.clone());
        Beckon {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            done,
        }
    }

    /// Waits until stdout shows `text`.
    async fn wait_for(&mut self, text: &str) {
        let seen = tokio::time::timeout(WAIT, self.stdout.wait_for(|s| s.contains(text)))
            .await
            .is_ok_and(|r| r.is_ok());
        assert!(
            seen,
            "no {text:?} in stdout:\n{}\nstderr:\n{}",
            *self.stdout.borrow(),
            *self.stderr.borrow()
        );
    }

    async fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Ctrl-C, as a terminal sends it.
    fn interrupt(&self) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn exit(mut self) -> Exited {
        let status = match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(s) => s.unwrap(),
            Err(_) => panic!(
                "still running; stdout:\n{}\nstderr:\n{}",
                *self.stdout.borrow(),
                *self.stderr.borrow()
            ),
        };
        // Both pipes read to the end.
        let _ = tokio::time::timeout(WAIT, self.done.acquire_many(2)).await;
        let exited = Exited {
            code: status.code().expect("exited, not killed"),
            stdout: self.stdout.borrow().clone(),
            stderr: self.stderr.borrow().clone(),
        };
        println!(
            "--- exit {}\n{}{}",
            exited.code, exited.stdout, exited.stderr
        );
        exited
    }
}

impl Exited {
    fn expect(self, code: i32, stdout: &[&str]) -> Exited {
        assert_eq!(
            self.code, code,
            "exit status; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        for text in stdout {
            assert!(
                self.stdout.contains(text),
                "no {text:?} in stdout:\n{}\nstderr:\n{}",
                self.stdout,
                self.stderr
            );
        }
        self
    }
}

fn collect(
    mut pipe: impl AsyncRead + Unpin + Send + 'static,
    done: Arc<tokio::sync::Semaphore>,
) -> watch::Receiver<String> {
    let (tx, rx) = watch::channel(String::new());
    tokio::spawn(async move {
        // Chunks, not lines: a prompt waits at the end of an unfinished line.
        let mut buf = [0u8; 4096];
        let mut bytes = Vec::new();
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            bytes.extend_from_slice(&buf[..n]);
            tx.send_replace(String::from_utf8_lossy(&bytes).into_owned());
        }
        done.add_permits(1);
    });
    rx
}

/// `bob` waiting for calls with the given `answer` flags.
async fn answering(url: &str, user: &str, flags: &[&str]) -> Beckon {
    let mut args = vec!["answer", "--user", user];
    args.extend_from_slice(flags);
    let mut b = Beckon::start(url, &args);
    b.wait_for("Waiting for calls as").await;
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_call_exits_0_on_both_sides() {
    let s = server().await;
    let bob = answering(
        &s.url(),
        "bob",
        &["--auto-accept", "--once", "--hangup-after", "1"],
    )
    .await;
    let alice = Beckon::start(
        &s.url(),
        &[
            "call", "bob", "--user", "alice", "--name", "Alice", "--video",
        ],
    );
    alice.exit().await.expect(
        0,
        &[
            "Calling bob (video)",
            "bob accepted — in call",
            "Call ended by bob after",
        ],
    );
    bob.exit().await.expect(
        0,
        &[
            "Incoming video call from Alice (alice)",
            "Accepted — in call",
            "You hung up after",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_y_at_the_prompt_accepts() {
    let s = server().await;
    let mut bob = answering(&s.url(), "bob", &["--once"]).await;
    let alice = Beckon::start(
        &s.url(),
        &["call", "bob", "--user", "alice", "--hangup-after", "1"],
    );
    bob.wait_for("Accept? [y/N]").await;
    bob.type_line("y").await;
    alice
        .exit()
        .await
        .expect(0, &["bob: ringing", "bob accepted", "You hung up after"]);
    bob.exit().await.expect(
        0,
        &["Incoming voice call from alice", "Call ended by alice"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_exits_4_and_the_callee_sees_it_missed() {
    let s = server().await;
    let mut bob = answering(&s.url(), "bob", &[]).await;
    let alice = Beckon::start(
        &s.url(),
        &["call", "bob", "--user", "alice", "--timeout", "2"],
    );
    bob.wait_for("Accept? [y/N]").await;
    alice
        .exit()
        .await
        .expect(4, &["bob: ringing", "No answer from bob."]);
    bob.wait_for("Missed call from alice.").await;
    // Ctrl-C with no call in progress just quits.
    bob.interrupt();
    bob.exit().await.expect(0, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_call_exits_2() {
    let s = server().await;
    let bob = answering(&s.url(), "bob", &["--auto-decline", "--once"]).await;
    let alice = Beckon::start(&s.url(), &["call", "bob", "--user", "alice"]);
    alice.exit().await.expect(2, &["bob declined."]);
    bob.exit()
        .await
        .expect(2, &["Declined the call from alice"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_someone_offline_exits_4_as_unreachable() {
    let s = server().await;
    let alice = Beckon::start(
        &s.url(),
        &["call", "bob", "--user", "alice", "--timeout", "1"],
    );
    alice.exit().await.expect(
        4,
        &[
            "bob: offline — will ring when they come online",
            "bob could not be reached (offline).",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_ringing_cancels_and_exits_5() {
    let s = server().await;
    let mut alice = Beckon::start(&s.url(), &["call", "bob", "--user", "alice"]);
    alice.wait_for("bob: offline").await;
    alice.interrupt();
    alice.exit().await.expect(5, &["Call cancelled."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_someone_in_a_call_exits_3_and_ctrl_c_hangs_up() {
    let s = server().await;
    let mut bob = answering(&s.url(), "bob", &["--auto-accept"]).await;
    let mut alice = Beckon::start(&s.url(), &["call", "bob", "--user", "alice"]);
    alice.wait_for("bob accepted").await;

    let carol = Beckon::start(&s.url(), &["call", "bob", "--user", "carol"]);
    carol.exit().await.expect(3, &["bob is busy."]);
    bob.wait_for("Rejected a call from carol: busy.").await;

    alice.interrupt();
    alice.exit().await.expect(0, &["You hung up after"]);
    bob.wait_for("Call ended by alice").await;
    bob.interrupt();
    bob.exit().await.expect(0, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_the_calls_of_both_sides() {
    let s = server().await;
    let bob = answering(
        &s.url(),
        "bob",
        &["--auto-accept", "--once", "--hangup-after", "1"],
    )
    .await;
    let alice = Beckon::start(
        &s.url(),
        &[
            "call", "bob", "--user", "alice", "--name", "Alice", "--video",
        ],
    );
    alice.exit().await.expect(0, &[]);
    bob.exit().await.expect(0, &[]);
    let missed = Beckon::start(
        &s.url(),
        &["call", "bob", "--user", "carol", "--timeout", "1"],
    );
    missed.exit().await.expect(4, &[]);

    let alice = Beckon::start(&s.url(), &["history", "--user", "alice"])
        .exit()
        .await;
    let alice = alice.expect(0, &["→ out", "bob", "video", "answered"]);
    assert_eq!(alice.stdout.lines().count(), 2, "a header and one call");

    let bob = Beckon::start(&s.url(), &["history", "--user", "bob", "--count", "5"])
        .exit()
        .await;
    let bob = bob.expect(0, &["← in", "Alice (alice)", "answered", "carol", "MISSED"]);
    let first = bob.stdout.lines().nth(1).unwrap();
    assert!(first.contains("carol"), "newest first:\n{}", bob.stdout);

    Beckon::start(&s.url(), &["history", "--user", "dave"])
        .exit()
        .await
        .expect(0, &["No calls yet."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_exit_1_with_a_reason_on_stderr() {
    // Nobody listens on a port just freed.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ws://{}/ws", l.local_addr().unwrap())
    };
    let e = Beckon::start(&closed, &["call", "bob", "--user", "alice"])
        .exit()
        .await;
    let e = e.expect(1, &[]);
    assert!(
        e.stderr.contains("cannot connect to ws://127.0.0.1:"),
        "{}",
        e.stderr
    );
    assert!(e.stdout.is_empty(), "stdout stays clean: {}", e.stdout);

    let guarded = server_with(AuthMode::Token {
        secret: b"test secret".to_vec(),
    })
    .await;
    let e = Beckon::start(
        &guarded.url(),
        &["history", "--user", "alice", "--token", "forged"],
    )
    .exit()
    .await;
    let e = e.expect(1, &[]);
    assert!(e.stderr.contains("login refused"), "{}", e.stderr);

    let s = server().await;
    let e = Beckon::start(&s.url(), &["call", "bob"])
        .exit()
        .await
        .expect(1, &[]);
    assert!(e.stderr.contains("--user"), "{}", e.stderr);

    // A usage error is 1 too: clap's own 2 would read as "declined".
    let e = Beckon::start(
        &s.url(),
        &["call", "bob", "--user", "alice", "--timeout", "0"],
    )
    .exit()
    .await;
    e.expect(1, &[]);
    let e = Beckon::start(
        &s.url(),
        &["answer", "--user", "bob", "--auto-accept", "--auto-decline"],
    )
    .exit()
    .await;
    e.expect(1, &[]);
    let e = Beckon::start(&s.url(), &["call", "alice", "--user", "alice"])
        .exit()
        .await;
    let e = e.expect(1, &[]);
    assert!(e.stderr.contains("yourself"), "{}", e.stderr);
}
