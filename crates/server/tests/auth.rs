//! Who may log in as whom (token mode), who may touch which call (members only), and the
//! binary's `token` command and refusal to run open auth on a public address.
mod common;

use beckon_client::Requests;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use beckon_client::WireClient;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use beckon_server::auth::{mint, AuthMode, Authenticator};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "secret";
const BIN: &str = env!("CARGO_BIN_EXE_beckon-server");

async fn token_server() -> TestServer {
    TestServer::start_with(|c| c.auth = token_mode(SECRET)).await
}

fn token_for(user: &str) -> String {
    mint(SECRET.as_bytes(), user, Duration::from_secs(600)).unwrap()
}

/// A logged-in user (device `{user}-1`) on a token-mode server.
async fn signed_in(s: &TestServer, user: &str) -> User {
    s.login(user, &format!("{user}-1"), Some(token_for(user)))
        .await
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 (or other) JWT with any claims, signed with `secret`.
fn jwt(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The login error for `user` presenting `token`, on a fresh connection.
async fn login_error(s: &TestServer, user: &str, token: Option<String>) -> ErrorBody {
    let (client, _events) = s.connect().await;
    error(client.login(user, "x", token, None).await)
}

#[tokio::test]
async fn a_valid_token_logs_in() {
    let s = token_server().await;
    let (client, events) = s.connect().await;
    let r = client
        .login("alice", "Alice", Some(token_for("alice")), None)
        .await
        .unwrap();
    assert_eq!(r.user_id, "alice");
    assert_eq!(r.protocol_version, PROTOCOL_VERSION);
    // And the session works: it can call someone who also signed in.
    let alice = User {
        id: "alice".into(),
        client,
        events,
    };
    let mut bob = signed_in(&s, "bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    assert_eq!(bob.received().await.call_id, sent.call_id);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_codes() {
    let s = token_server().await;
    let now = now_secs();

    let e = login_error(&s, "alice", None).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "missing: {e:?}");

    let forged = mint(b"other secret", "alice", Duration::from_secs(600)).unwrap();
    let e = login_error(&s, "alice", Some(forged)).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "forged: {e:?}");

    for garbage in ["", "garbage", "x.y.z", "a.b", "...."] {
        let e = login_error(&s, "alice", Some(garbage.into())).await;
        assert_eq!(e.code, ErrorCode::AuthFailed, "{garbage:?}: {e:?}");
    }

    // A token whose signature was tampered with: valid for bob, payload rewritten to alice.
    let bob = token_for("bob");
    let parts: Vec<&str> = bob.split('.').collect();
    let payload = b64url(
        json!({"sub": "alice", "exp": now + 600})
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    let e = login_error(&s, "alice", Some(tampered)).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "tampered: {e:?}");

    // alg "none" and an algorithm the server does not use, even with the right secret.
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{header}.{payload}.");
    let e = login_error(&s, "alice", Some(unsigned)).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "alg none: {e:?}");
    let hs512 = jwt(
        Algorithm::HS512,
        SECRET,
        &json!({"sub": "alice", "exp": now + 600}),
    );
    let e = login_error(&s, "alice", Some(hs512)).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "HS512: {e:?}");

    // Required claims.
    let no_exp = jwt(Algorithm::HS256, SECRET, &json!({"sub": "alice"}));
    let e = login_error(&s, "alice", Some(no_exp)).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "no exp: {e:?}");
    let no_sub = jwt(Algorithm::HS256, SECRET, &json!({"exp": now + 600}));
    let e = login_error(&s, "alice", Some(no_sub)).await;
    assert_eq!(e.code, ErrorCode::AuthFailed, "no sub: {e:?}");

    // Expired an hour ago: its own code.
    let expired = jwt(
        Algorithm::HS256,
        SECRET,
        &json!({"sub": "alice", "exp": now - 3600, "iat": now - 7200}),
    );
    let e = login_error(&s, "alice", Some(expired)).await;
    assert_eq!(e.code, ErrorCode::TokenExpired, "expired: {e:?}");
    assert_eq!(e.name, "tokenExpired");

    // bob's perfectly good token does not make you alice.
    let e = login_error(&s, "alice", Some(token_for("bob"))).await;
    assert_eq!(e.code, ErrorCode::TokenUserMismatch, "{e:?}");
    assert!(e.message.contains("bob"), "{}", e.message);
}

#[tokio::test]
async fn a_refused_login_leaves_the_connection_logged_out_but_usable() {
    let s = token_server().await;
    let (client, _events) = s.connect().await;
    assert_eq!(
        code(
            client
                .login("alice", "A", Some(token_for("bob")), None)
                .await
        ),
        ErrorCode::TokenUserMismatch
    );
    assert_eq!(
        code(client.query_call_list(10, 0).await),
        ErrorCode::NotLoggedIn
    );
    assert_eq!(
        code(
            client
                .call_invite(invite(&["bob"], CallMode::Normal, 5))
                .await
        ),
        ErrorCode::NotLoggedIn
    );
    client
        .login("alice", "A", Some(token_for("alice")), None)
        .await
        .unwrap();
    assert!(client.query_call_list(10, 0).await.is_ok());
}

#[tokio::test]
async fn open_mode_ignores_tokens() {
    let s = TestServer::start().await;
    let (client, _events) = s.connect().await;
    client
        .login("alice", "A", Some("not even a jwt".into()), None)
        .await
        .expect("open mode does not check tokens");
}

/// alice calls bob and carol (advanced); bob accepts, carol is still ringing. mallory is
/// logged in but not a member. Also an ended normal call dave -> erin.
#[tokio::test]
async fn strangers_cannot_touch_a_call() {
    let s = token_server().await;
    let mut alice = signed_in(&s, "alice").await;
    let mut bob = signed_in(&s, "bob").await;
    let mut carol = signed_in(&s, "carol").await;
    let mut mallory = signed_in(&s, "mallory").await;
    let dave = signed_in(&s, "dave").await;
    let mut erin = signed_in(&s, "erin").await;

    let live = alice
        .invite(&["bob", "carol"], CallMode::Advanced, 60)
        .await;
    bob.received().await;
    carol.received().await;
    bob.client.call_accept(&live.call_id, "").await.unwrap();
    alice.state_of("bob").await;
    carol.state_of("bob").await;

    let ended = dave.invite(&["erin"], CallMode::Normal, 60).await;
    erin.received().await;
    erin.client
        .call_reject(&ended.call_id, "", RejectReason::Declined)
        .await
        .unwrap();
    assert_eq!(
        history_call(&dave, &ended.call_id).await.state,
        CallState::Ended
    );

    let m = &mallory.client;
    for call_id in [
        live.call_id.as_str(),
        ended.call_id.as_str(),
        "00000000000000000000000000000000",
    ] {
        let what = format!("call {call_id}");
        assert_eq!(
            code(m.call_accept(call_id, "").await),
            ErrorCode::CallNotFound,
            "accept {what}"
        );
        assert_eq!(
            code(m.call_reject(call_id, "", RejectReason::Busy).await),
            ErrorCode::CallNotFound,
            "reject {what}"
        );
        assert_eq!(
            code(m.call_cancel(cancel_all(call_id)).await),
            ErrorCode::CallNotFound,
            "cancel {what}"
        );
        let mut named = cancel_all(call_id);
        named.invitees = vec!["carol".into()];
        assert_eq!(
            code(m.call_cancel(named).await),
            ErrorCode::CallNotFound,
            "cancel carol {what}"
        );
        assert_eq!(
            code(m.call_end(call_id, "").await),
            ErrorCode::CallNotFound,
            "end {what}"
        );
        assert_eq!(
            code(m.call_join(call_id, "").await),
            ErrorCode::CallNotFound,
            "join {what}"
        );
        assert_eq!(
            code(m.call_quit(call_id, "").await),
            ErrorCode::CallNotFound,
            "quit {what}"
        );
        let more = CallingInvite {
            call_id: call_id.to_string(),
            invitees: vec!["mallory2".into()],
            timeout: Some(30),
            extended_data: String::new(),
            push_config: None,
        };
        assert_eq!(
            code(m.calling_invite(more).await),
            ErrorCode::CallNotFound,
            "callingInvite {what}"
        );
        for to in ["alice", "bob"] {
            assert_eq!(
                code(m.relay(call_id, to, json!({"sdp": "evil"})).await),
                ErrorCode::CallNotFound,
                "relay to {to} {what}"
            );
        }
    }

    // None of it reached anyone or changed anything.
    alice.silent().await;
    bob.silent().await;
    carol.silent().await;
    mallory.silent().await;
    let call = history_call(&alice, &live.call_id).await;
    assert_eq!(call.state, CallState::Started);
    assert_eq!(call.call_user_list.len(), 3);
    assert_eq!(state_in(&call.call_user_list, "alice"), Accepted);
    assert_eq!(state_in(&call.call_user_list, "bob"), Accepted);
    assert_eq!(state_in(&call.call_user_list, "carol"), Received);
    assert!(!call
        .call_user_list
        .iter()
        .any(|u| u.user_id.starts_with("mallory")));

    // A member cannot relay to a stranger either.
    assert_eq!(
        code(alice.client.relay(&live.call_id, "mallory", json!(1)).await),
        ErrorCode::RelayTargetUnavailable
    );
    mallory.silent().await;

    // The history query shows members their calls, and a stranger nothing.
    let list = mallory.client.query_call_list(100, 0).await.unwrap();
    assert!(list.call_list.is_empty(), "{list:?}");
    assert_eq!(list.next_flag, 0);
    for u in [&alice, &bob, &carol] {
        let ids: Vec<_> = u
            .client
            .query_call_list(100, 0)
            .await
            .unwrap()
            .call_list
            .into_iter()
            .map(|c| c.call_id)
            .collect();
        assert_eq!(ids, vec![live.call_id.clone()], "{}", u.id);
    }

    // The members carry on: carol can still accept, bob can still relay to alice.
    carol.client.call_accept(&live.call_id, "").await.unwrap();
    bob.client
        .relay(&live.call_id, "alice", json!({"hi": 1}))
        .await
        .unwrap();
    let relayed = alice
        .wait_for("relay", |e| match e {
            ServerMessage::Relay(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(relayed.from_user_id, "bob");
}

/// Advanced mode keeps the seed's "nobody has answered" per invitation: after the call
/// connected, each inviter may still cancel its own invitees that are still ringing, and
/// nobody else's.
#[tokio::test]
async fn advanced_mode_cancel_after_an_accept_is_per_inviter() {
    let s = token_server().await;
    let mut alice = signed_in(&s, "alice").await;
    let mut bob = signed_in(&s, "bob").await;
    let mut carol = signed_in(&s, "carol").await;
    let mut dave = signed_in(&s, "dave").await;
    let sent = alice
        .invite(&["bob", "carol"], CallMode::Advanced, 60)
        .await;
    bob.received().await;
    carol.received().await;
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    alice.state_of("bob").await;
    let more = CallingInvite {
        call_id: sent.call_id.clone(),
        invitees: vec!["dave".into()],
        timeout: Some(60),
        extended_data: String::new(),
        push_config: None,
    };
    bob.client.calling_invite(more).await.unwrap();
    dave.received().await;

    let only_dave = CallCancel {
        call_id: sent.call_id.clone(),
        invitees: vec!["dave".into()],
        extended_data: String::new(),
    };
    let e = error(alice.client.call_cancel(only_dave.clone()).await);
    assert_eq!(
        e.code,
        ErrorCode::NotInviter,
        "dave is bob's invitee: {e:?}"
    );
    assert_eq!(
        code(
            alice
                .client
                .call_cancel(CallCancel {
                    invitees: vec!["bob".into()],
                    ..only_dave.clone()
                })
                .await
        ),
        ErrorCode::CallAlreadyAccepted,
        "bob already answered"
    );
    alice
        .client
        .call_cancel(cancel_all(&sent.call_id))
        .await
        .unwrap();
    carol
        .wait_for("cancelled", |e| {
            matches!(e, ServerMessage::CallInvitationCancelled(_)).then_some(())
        })
        .await;
    bob.client.call_cancel(only_dave).await.unwrap();
    dave.wait_for("cancelled", |e| {
        matches!(e, ServerMessage::CallInvitationCancelled(_)).then_some(())
    })
    .await;
    let call = history_call(&alice, &sent.call_id).await;
    assert_eq!(state_in(&call.call_user_list, "carol"), Cancelled);
    assert_eq!(state_in(&call.call_user_list, "dave"), Cancelled);
    assert_eq!(state_in(&call.call_user_list, "bob"), Accepted);
}

// ---- the binary ----

/// Kills the child on drop, so a failing test leaves no server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    Running(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

fn wait_healthy(server: &mut Running, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if healthy(port) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not become healthy");
}

/// Waits (bounded) for a process that should exit by itself.
fn exits(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).unwrap();
            }
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn token_cmd(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("token")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_token_command_mints_tokens_for_the_secret_beside_the_db() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let db = db.to_str().unwrap();
    let first = token_cmd(&["--user", "alice", "--db", db]);
    assert!(first.status.success(), "{first:?}");
    let second = token_cmd(&["--user", "alice", "--db", db, "--ttl", "1h"]);
    assert!(second.status.success(), "{second:?}");

    let secret_path = dir.path().join("secret");
    let secret = std::fs::read_to_string(&secret_path).expect("a secret file beside the db");
    let secret = secret.trim();
    assert_eq!(secret.len(), 64, "{secret:?}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret is private: {mode:o}");
    }

    let auth = Authenticator::new(&AuthMode::Token {
        secret: secret.as_bytes().to_vec(),
    });
    let other = Authenticator::new(&AuthMode::Token {
        secret: b"something else".to_vec(),
    });
    let now = now_secs();
    for (out, ttl) in [(&first, 30 * 24 * 3600), (&second, 3600)] {
        let token = String::from_utf8(out.stdout.clone()).unwrap();
        let token = token.trim();
        assert_eq!(token.split('.').count(), 3, "{token}");
        assert!(auth.verify("alice", Some(token)).is_ok(), "{token}");
        assert_eq!(
            auth.verify("bob", Some(token)).unwrap_err().0,
            ErrorCode::TokenUserMismatch
        );
        assert_eq!(
            other.verify("alice", Some(token)).unwrap_err().0,
            ErrorCode::AuthFailed
        );
        // exp is now + ttl.
        let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["sub"], "alice");
        let exp = claims["exp"].as_u64().unwrap();
        assert!(
            exp >= now + ttl - 60 && exp <= now + ttl + 60,
            "exp {exp}, now {now}, ttl {ttl}"
        );
    }

    // The secret is made once: a third run still signs with it.
    let third = token_cmd(&["--user", "bob", "--db", db]);
    let token = String::from_utf8(third.stdout).unwrap();
    assert!(auth.verify("bob", Some(token.trim())).is_ok());

    // A user ID the server would refuse gets no token.
    let bad = token_cmd(&["--user", "not valid", "--db", db]);
    assert!(!bad.status.success());
    assert!(bad.stdout.is_empty(), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("user ID"),
        "{bad:?}"
    );
}

#[test]
fn open_auth_on_a_public_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let child = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--auth", "open", "--db"])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, stderr) = exits(child);
    assert!(!status.success(), "{status}");
    assert!(stderr.contains("open auth"), "{stderr}");
    assert!(stderr.contains("--allow-open-on-public"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_auth_on_a_public_address_runs_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let log = dir.path().join("server.log");
    let port = free_port("0.0.0.0");
    let listen = format!("0.0.0.0:{port}");
    let mut server = spawn(
        &[
            "--listen",
            &listen,
            "--auth",
            "open",
            "--allow-open-on-public",
            "--db",
            db.to_str().unwrap(),
        ],
        &log,
    );
    tokio::task::block_in_place(|| wait_healthy(&mut server, port, &log));
    let (client, _events) = WireClient::connect(&format!("ws://127.0.0.1:{port}/ws"))
        .await
        .unwrap();
    client
        .login("anyone", "Anyone", None, None)
        .await
        .expect("open mode: no token needed");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_on_a_public_address_is_token_mode_with_the_cli_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let db = db.to_str().unwrap();
    let log = dir.path().join("server.log");
    let port = free_port("0.0.0.0");
    let listen = format!("0.0.0.0:{port}");
    let mut server = spawn(&["--listen", &listen, "--db", db], &log);
    tokio::task::block_in_place(|| wait_healthy(&mut server, port, &log));
    let url = format!("ws://127.0.0.1:{port}/ws");

    let (client, _events) = WireClient::connect(&url).await.unwrap();
    assert_eq!(
        code(client.login("alice", "A", None, None).await),
        ErrorCode::AuthFailed
    );
    let out = token_cmd(&["--user", "alice", "--db", db]);
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    client
        .login("alice", "A", Some(token.clone()), None)
        .await
        .expect("a token from `beckon-server token` with the same --db works");
    let (other, _events) = WireClient::connect(&url).await.unwrap();
    assert_eq!(
        code(other.login("bob", "B", Some(token), None).await),
        ErrorCode::TokenUserMismatch
    );
    drop(server);
}

#[test]
fn the_test_base64url_encoder_is_right() {
    // So the tampered and unsigned tokens above are well-formed, not just garbage.
    assert_eq!(b64url(b"Man"), "TWFu");
    assert_eq!(b64url(b"Ma"), "TWE");
    assert_eq!(b64url(b"M"), "TQ");
    assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
}
