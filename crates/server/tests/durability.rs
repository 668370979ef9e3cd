//! The real binary, killed and restarted on the same database: every answered change
//! survives a SIGKILL, pending invitations time out at their original deadlines (or at
//! once if the deadline passed while the server was down), offline invitees still get
//! their invitation, and SIGTERM stops the server cleanly.
mod common;

use beckon_client::Requests;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use beckon_client::ClosedBy;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use beckon_server::store::Database;
use beckon_testkit::process::ServerProcess;
use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_beckon-server");
/// `--heartbeat-timeout`: short, so every client here keeps its session alive itself, and
/// after a restart the callers must be back within it or their calls count as abandoned.
const HEARTBEAT_SECS: u64 = 3;

use beckon_protocol::now_unix_ms as now_ms;

/// The test's `--db`: a file in `dir`, or a fresh PostgreSQL database with
/// `BECKON_TEST_DB=postgres`; every run of the test uses the same one.
fn database(dir: &Path) -> String {
    match beckon_testkit::postgres::test_database(dir) {
        Database::Sqlite(path) => path.display().to_string(),
        Database::Postgres(url) => url.expose().to_string(),
    }
}

/// One run of the binary on `db`, logging into `dir`.
struct Server;

impl Server {
    async fn start(dir: &Path, db: &str, run: usize) -> ServerProcess {
        let args = [
            "--db",
            db,
            "--auth",
            "open",
            "--heartbeat-timeout",
            &HEARTBEAT_SECS.to_string(),
        ]
        .map(String::from);
        ServerProcess::start(BIN, dir.join(format!("server-{run}.log")), &args).await
    }
}

async fn login_all(url: &str, users: &[&str]) -> HashMap<String, User> {
    let logins = users.iter().map(|u| login_at(url, u));
    futures_util::future::join_all(logins)
        .await
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect()
}

/// Waits for the callInvitationReceived for `call_id`; later events stay queued.
/// A second server on `db`: alice and bob sign in again, and bob's invitation to
/// `call_id` rings him with the deadline he was first given, as alice's history shows.
async fn still_ringing(
    dir: &Path,
    db: &str,
    call_id: &str,
    rung: &InvitationInfo,
) -> (ServerProcess, User, User) {
    let server = Server::start(dir, db, 2).await;
    let url = server.url();
    let alice = login_at(&url, "alice").await;
    let mut bob = login_at(&url, "bob").await;
    let again = rings(&mut bob, call_id).await;
    assert_eq!(again.expire_time, rung.expire_time);
    let call = history_call(&alice, call_id).await;
    assert_eq!(call.state, CallState::Started);
    assert_eq!(state_in(&call.call_user_list, "bob"), Received);
    (server, alice, bob)
}

async fn rings(user: &mut User, call_id: &str) -> InvitationInfo {
    user.wait_for(
        &format!("callInvitationReceived for {call_id}"),
        |e| match e {
            ServerMessage::CallInvitationReceived(i) if i.call_id == call_id => Some(i.clone()),
            _ => None,
        },
    )
    .await
}

/// The callInvitationReceived for `call_id`, if the hub sent one (see `User::drain`).
async fn rang(user: &mut User, call_id: &str) -> Option<InvitationInfo> {
    let mut found = None;
    for e in user.drain().await {
        if let ServerMessage::CallInvitationReceived(i) = e {
            if i.call_id == call_id {
                found = Some(i);
            }
        }
    }
    found
}

fn member<'a>(call: &'a CallInfo, user: &str) -> &'a CallUserInfo {
    call.call_user_list
        .iter()
        .find(|u| u.user_id == user)
        .unwrap_or_else(|| panic!("{user} not in {call:?}"))
}

/// What must not change across a restart, whatever happens to the members' states.
fn same_call(before: &CallInfo, after: &CallInfo) {
    assert_eq!(after.call_id, before.call_id);
    assert_eq!(after.caller, before.caller);
    assert_eq!(after.caller_name, before.caller_name);
    assert_eq!(after.mode, before.mode);
    assert_eq!(after.create_time, before.create_time);
    assert_eq!(after.extended_data, before.extended_data);
    let users = |c: &CallInfo| -> Vec<(String, String)> {
        c.call_user_list
            .iter()
            .map(|u| (u.user_id.clone(), u.inviter.clone()))
            .collect()
    };
    assert_eq!(users(after), users(before), "{}", before.call_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_comes_back_with_every_call_and_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let mut server = Server::start(dir.path(), &db, 1).await;
    let url = server.url();
    let everyone = [
        "alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan", "judy", "kate",
        "mike", "nina", "oscar", "pete", "quinn", "rita", "sam",
    ];
    // leo is offline until after the restart.
    let mut u = login_all(&url, &everyone).await;
    macro_rules! user {
        ($name:literal) => {
            u.get_mut($name).unwrap()
        };
    }

    // E: a long invitation, judy online and ringing.
    let mut inv = invite(&["judy"], CallMode::Normal, 600);
    inv.extended_data = "E-data".into();
    inv.push_config = Some(PushConfig {
        title: "Ivan".into(),
        content: "calling".into(),
        payload: "{}".into(),
    });
    let e = user!("ivan").client.call_invite(inv).await.unwrap();
    let e_rang = user!("judy").received().await;
    // F: leo is offline.
    let f = user!("kate").invite(&["leo"], CallMode::Normal, 60).await;
    assert_eq!(state_in(&f.call_user_list, "leo"), Inviting);
    // G: an advanced call, both invitees ringing.
    let g = user!("mike")
        .invite(&["nina", "oscar"], CallMode::Advanced, 60)
        .await;
    user!("nina").received().await;
    user!("oscar").received().await;
    // A, B, C: answered below.
    let a = user!("alice").invite(&["bob"], CallMode::Normal, 60).await;
    user!("bob").received().await;
    let b = user!("carol").invite(&["dave"], CallMode::Normal, 60).await;
    user!("dave").received().await;
    let c = user!("erin").invite(&["frank"], CallMode::Normal, 60).await;
    user!("frank").received().await;
    // D: a short invitation that must time out after the restart, at its deadline.
    let d = user!("gina").invite(&["hank"], CallMode::Normal, 8).await;
    let d_rang = user!("hank").received().await;
    let d_deadline = d_rang.expire_time.unwrap();
    // H: so short that its deadline passes while the server is down.
    let h = user!("pete").invite(&["quinn"], CallMode::Normal, 2).await;
    let h_rang = user!("quinn").received().await;
    let h_deadline = h_rang.expire_time.unwrap();
    assert_eq!(h_deadline, h.create_time + 2000);

    // I: rita will not come back after the restart.
    let i = user!("rita").invite(&["sam"], CallMode::Normal, 120).await;
    user!("sam").received().await;

    // Snapshot of every call as its caller sees it, before the last answers.
    let mut before = HashMap::new();
    for (caller, sent) in [
        ("alice", &a),
        ("carol", &b),
        ("erin", &c),
        ("gina", &d),
        ("ivan", &e),
        ("kate", &f),
        ("mike", &g),
        ("pete", &h),
        ("rita", &i),
    ] {
        before.insert(
            sent.call_id.clone(),
            history_call(&u[caller], &sent.call_id).await,
        );
    }

    // The last answers, all at once; the server dies the moment they are answered.
    let answered_from = now_ms();
    let mut cancel = cancel_all(&c.call_id);
    cancel.extended_data = "C-cancel".into();
    let (ra, rb, rc, rn, ro) = tokio::join!(
        u["bob"].client.call_accept(&a.call_id, "A-ok"),
        u["dave"]
            .client
            .call_reject(&b.call_id, "B-busy", RejectReason::Busy),
        u["erin"].client.call_cancel(cancel),
        u["nina"].client.call_accept(&g.call_id, "G-nina"),
        u["oscar"].client.call_accept(&g.call_id, "G-oscar"),
    );
    server.kill();
    let answered_to = now_ms();
    ra.unwrap();
    rb.unwrap();
    rc.unwrap();
    rn.unwrap();
    ro.unwrap();
    assert!(
        answered_to < h_deadline,
        "the setup was too slow: H expired before the kill"
    );
    while let Some(ev) = user!("quinn").events.try_next() {
        assert!(
            !matches!(ev, ServerMessage::CallInvitationTimeout(_)),
            "H timed out before the kill"
        );
    }
    drop(u);

    // Down until H's deadline has passed.
    let down_until = h_deadline + 300;
    tokio::time::sleep(Duration::from_millis(down_until.saturating_sub(now_ms()))).await;
    let restart_from = now_ms();
    let server = Server::start(dir.path(), &db, 2).await;
    let restarted = now_ms();
    assert!(
        d_deadline > restarted + 1000,
        "the restart was too slow to watch D time out ({} ms to spare)",
        d_deadline as i64 - restarted as i64
    );
    let url = server.url();
    let back: Vec<&str> = everyone.iter().copied().filter(|u| *u != "rita").collect();
    u = login_all(&url, &back).await;
    // leo last, so kate is online to see him become `received`.
    u.insert("leo".into(), login_at(&url, "leo").await);

    // H fired at once after the restart: quinn is not rung again, the history says timeout.
    assert!(rang(user!("quinn"), &h.call_id).await.is_none());
    let call = history_call(&u["pete"], &h.call_id).await;
    same_call(&before[&h.call_id], &call);
    let quinn = member(&call, "quinn");
    assert_eq!(quinn.state, Timeout);
    assert!(
        quinn.update_time >= restart_from && quinn.update_time <= restarted + 1500,
        "H should fire right after the restart ({restart_from}..{restarted}), fired at {}",
        quinn.update_time
    );
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(history_call(&u["quinn"], &h.call_id).await, call);

    // A, B, C: the answers given just before the kill are all there.
    let call = history_call(&u["alice"], &a.call_id).await;
    same_call(&before[&a.call_id], &call);
    let bob = member(&call, "bob");
    assert_eq!((bob.state, bob.extended_data.as_str()), (Accepted, "A-ok"));
    assert!(bob.update_time >= answered_from && bob.update_time <= answered_to);
    assert_eq!(call.state, CallState::Ended);
    let call = history_call(&u["dave"], &b.call_id).await;
    same_call(&before[&b.call_id], &call);
    let dave = member(&call, "dave");
    assert_eq!(
        (dave.state, dave.reason, dave.extended_data.as_str()),
        (Rejected, Some(StateReason::Busy), "B-busy")
    );
    assert_eq!(call.state, CallState::Ended);
    let call = history_call(&u["frank"], &c.call_id).await;
    same_call(&before[&c.call_id], &call);
    let frank = member(&call, "frank");
    assert_eq!(
        (frank.state, frank.reason),
        (Cancelled, Some(StateReason::CancelledByInviter))
    );
    assert_eq!(call.state, CallState::Ended);

    // E: unchanged, and judy's device rings again with the same invitation.
    let again = rings(user!("judy"), &e.call_id).await;
    assert_eq!(again.expire_time, e_rang.expire_time);
    assert_eq!(again.extended_data, "E-data");
    assert_eq!(again.push_config, e_rang.push_config);
    assert_eq!(
        history_call(&u["ivan"], &e.call_id).await,
        before[&e.call_id]
    );

    // F: leo, offline all along, gets the invitation now; kate sees him `received`.
    // (an offline invitee logging in in time is rung)
    let leo_rang = rings(user!("leo"), &f.call_id).await;
    assert_eq!(leo_rang.caller, "kate");
    assert_eq!(leo_rang.expire_time, Some(f.create_time + 60_000));
    assert_eq!(user!("kate").state_of("leo").await.state, Received);
    let call = history_call(&u["leo"], &f.call_id).await;
    same_call(&before[&f.call_id], &call);
    assert_eq!(member(&call, "leo").state, Received);
    assert_eq!(call.state, CallState::Started);

    // G: everyone accepted, the call is live, and relay reaches mike's device.
    let call = history_call(&u["mike"], &g.call_id).await;
    same_call(&before[&g.call_id], &call);
    assert_eq!(call.state, CallState::Started);
    for (who, data) in [("mike", ""), ("nina", "G-nina"), ("oscar", "G-oscar")] {
        let m = member(&call, who);
        assert_eq!(
            (m.state, m.extended_data.as_str()),
            (Accepted, data),
            "{who}"
        );
    }
    u["nina"]
        .client
        .relay(&g.call_id, "mike", json!({"after": "restart"}))
        .await
        .unwrap();
    let relayed = user!("mike")
        .wait_for("relay", |e| match e {
            ServerMessage::Relay(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (
            relayed.from_user_id.as_str(),
            relayed.from_device_id.as_str()
        ),
        ("nina", "nina-1")
    );
    assert_eq!(relayed.payload, json!({"after": "restart"}));

    // D: hank rings again, then times out at the original deadline, not before.
    let again = rings(user!("hank"), &d.call_id).await;
    assert_eq!(again.expire_time, Some(d_deadline));
    assert_eq!(
        history_call(&u["gina"], &d.call_id).await,
        before[&d.call_id]
    );
    let limit = Duration::from_millis(d_deadline.saturating_sub(now_ms()) + 5000);
    let d_id = d.call_id.clone();
    user!("hank")
        .wait_long(limit, "D's timeout", |e| match e {
            ServerMessage::CallInvitationTimeout(t) if t.call_id == d_id => Some(()),
            _ => None,
        })
        .await;
    let fired = now_ms();
    assert!(
        fired + 50 >= d_deadline && fired <= d_deadline + 2000,
        "D should time out at {d_deadline}, did at {fired}"
    );
    assert_eq!(user!("gina").state_of("hank").await.state, Timeout);
    let call = history_call(&u["hank"], &d.call_id).await;
    let hank = member(&call, "hank");
    assert_eq!(hank.state, Timeout);
    assert!(hank.update_time >= d_deadline && hank.update_time <= d_deadline + 2000);
    assert_eq!(call.state, CallState::Ended);

    // I: rita's device never came back, so the grace period that started at the restart
    // runs out and sam's invitation is cancelled as callerGone.
    rings(user!("sam"), &i.call_id).await;
    let i_id = i.call_id.clone();
    let cancelled = user!("sam")
        .wait_long(
            Duration::from_secs(HEARTBEAT_SECS + 5),
            "callerGone",
            |e| match e {
                ServerMessage::CallInvitationCancelled(c) if c.call_id == i_id => Some(c.clone()),
                _ => None,
            },
        )
        .await;
    assert_eq!(cancelled.reason, StateReason::CallerGone);
    let call = history_call(&u["sam"], &i.call_id).await;
    same_call(&before[&i.call_id], &call);
    let sam = member(&call, "sam");
    assert_eq!(
        (sam.state, sam.reason),
        (Cancelled, Some(StateReason::CallerGone))
    );
    assert!(
        sam.update_time + 100 >= restart_from + HEARTBEAT_SECS * 1000,
        "rita had the whole grace period after the restart ({restart_from}), \
         cancelled at {}",
        sam.update_time
    );

    // New calls carry on after the old ones: newest first in the history.
    let fresh = u["alice"].invite(&["bob"], CallMode::Normal, 30).await;
    assert_ne!(fresh.call_id, a.call_id);
    let list = u["alice"].client.query_call_list(10, 0).await.unwrap();
    let ids: Vec<_> = list.call_list.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, [fresh.call_id.as_str(), a.call_id.as_str()]);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_says_goodbye_exits_zero_and_keeps_the_calls() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let mut server = Server::start(dir.path(), &db, 1).await;
    let url = server.url();
    let mut alice = login_at(&url, "alice").await;
    let mut bob = login_at(&url, "bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 120).await;
    let rung = bob.received().await;

    let status = server.terminate().await;
    assert!(status.success(), "{status}:\n{}", server.log_text());
    for user in [&mut alice, &mut bob] {
        let reason = user
            .wait_for("sessionClosed", |e| match e {
                ServerMessage::SessionClosed(c) => Some(c.reason),
                _ => None,
            })
            .await;
        assert_eq!(reason, CloseReason::ServerShutdown, "{}", user.id);
        let by = tokio::time::timeout(WAIT, user.client.closed())
            .await
            .expect("closed");
        assert!(matches!(by, ClosedBy::Server { .. }), "{}: {by:?}", user.id);
    }
    assert!(!healthy(server.port), "nothing listens any more");

    // Back on the same database: the ringing call is still ringing.
    let (server, _alice, bob) = still_ringing(dir.path(), &db, &sent.call_id, &rung).await;
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    drop(server);
}

/// Always on PostgreSQL, whatever `BECKON_TEST_DB` says: SIGKILL, and a new server on the
/// same database has the ringing call, which still times out at its original deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_killed_server_comes_back_and_the_call_still_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = beckon_testkit::postgres::fresh_database();
    let mut server = Server::start(dir.path(), db.expose(), 1).await;
    let url = server.url();
    let alice = login_at(&url, "alice").await;
    let mut bob = login_at(&url, "bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 4).await;
    let rung = bob.received().await;
    server.kill();
    drop((alice, bob));

    let (server, alice, mut bob) =
        still_ringing(dir.path(), db.expose(), &sent.call_id, &rung).await;
    bob.wait_long(
        Duration::from_secs(10),
        "callInvitationTimeout",
        |e| match e {
            ServerMessage::CallInvitationTimeout(t) if t.call_id == sent.call_id => Some(()),
            _ => None,
        },
    )
    .await;
    let at = now_ms();
    let deadline = rung.expire_time.expect("an expiry time");
    assert!(
        at >= deadline,
        "timed out at {at}, before its deadline {deadline}"
    );
    let call = history_call(&alice, &sent.call_id).await;
    assert_eq!(state_in(&call.call_user_list, "bob"), Timeout);
    drop(server);
}
