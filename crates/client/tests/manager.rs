//! The call manager against the real server, over real sockets: busy auto-reject, every
//! outcome seen from the side that gets it, several devices of one user, group calls,
//! invitations with foreign `extendedData` from clients that are not a call manager, and
//! catching up after connection drops, and the races found while writing these (at the end).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon_client::manager::{
    ActionError, CallView, Connection, Effect, Intent, Machine, MachineConfig, Notice, Op,
    OpResult, Outcome, Phase, Snapshot,
};
use beckon_client::{CallManager, CallType, Event, Updates};
use beckon_protocol::{
    CallInvitationEnded, CallInvite, CallMode, CallState, CallUserInfo, CallUserState,
    InvitationInfo, StateReason,
};
use common::{
    client, manager, manager_with, outcome, wait_event, wait_phase, wait_update, Proxy, TestServer,
    WAIT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn users(list: &[&str]) -> Vec<String> {
    list.iter().map(|u| u.to_string()).collect()
}

/// Polls the manager's snapshot (without consuming updates) until `f` holds.
/// Cuts `m`'s connection (and keeps it down) and waits until its manager has noticed.
async fn go_offline(proxy: &Proxy, m: &CallManager) {
    proxy.cut_and_block();
    until(m, "disconnected", |s| {
        !matches!(s.connection, Connection::Connected)
    })
    .await;
}

async fn until(m: &CallManager, what: &str, f: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = m.snapshot();
        if f(&s) {
            return s;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("snapshot never showed {what} within {WAIT:?}; last: {s:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the server shows call `id` ended in `m`'s history, and returns it.
async fn ended_on_server(m: &CallManager, id: &str) -> beckon_protocol::CallInfo {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let history = m.history(10).await.unwrap();
        let call = history.into_iter().find(|c| c.call_id == id);
        match call {
            Some(c) if c.state == CallState::Ended => return c,
            last if tokio::time::Instant::now() >= deadline => {
                panic!("call {id} not ended on the server within {WAIT:?}: {last:#?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The current call's ID, once the server has answered the invite.
async fn call_id(m: &CallManager) -> String {
    let s = until(m, "a call ID", |s| {
        s.call.as_ref().is_some_and(|c| c.call_id.is_some())
    })
    .await;
    s.call.unwrap().call_id.unwrap()
}

/// The next call to finish: how it ended and how it looked last.
async fn finished(updates: &mut Updates) -> (Outcome, CallView, Snapshot) {
    let u = wait_update(updates, "finished", |u| {
        matches!(u.notice, Notice::Finished { .. })
    })
    .await;
    match u.notice {
        Notice::Finished { outcome, call } => (outcome, call, u.snapshot),
        _ => unreachable!(),
    }
}

/// Who accepted, from the next `Accepted` notice, and the snapshot it came with.
async fn accepted(updates: &mut Updates) -> (String, Snapshot) {
    let u = wait_update(updates, "accepted", |u| {
        matches!(u.notice, Notice::Accepted { .. })
    })
    .await;
    match u.notice {
        Notice::Accepted { by } => (by, u.snapshot),
        _ => unreachable!(),
    }
}

/// Every update `m` made so far keeps `phase`, and none finishes. What says "so far" is a
/// marker invitation from a throwaway user (see `common::marker`): the manager handles
/// events in order, so once it has handled the marker it has handled everything before. A
/// busy manager rejects the marker as busy and keeps its phase; a free one rings, and is
/// let go again (the marker call is cancelled). Right after a reconnect the catch-up may
/// hand out the marker before the events it reports, so a second marker closes that gap.
async fn stays(url: &str, m: &CallManager, updates: &mut Updates, phase: Phase) {
    // Twice: right after a reconnect, the catch-up may report events after the first one.
    for _ in 0..2 {
        stays_until_a_marker(url, m, updates, phase).await;
    }
}

async fn stays_until_a_marker(url: &str, m: &CallManager, updates: &mut Updates, phase: Phase) {
    let marker = common::marker(url).await;
    let id = common::send_marker(&marker, &m.snapshot().user_id).await;
    loop {
        let u = wait_update(updates, "the marker", |_| true).await;
        let of_marker = match &u.notice {
            Notice::RejectedBusy { call_id, .. } => *call_id == id,
            _ => u
                .snapshot
                .call
                .as_ref()
                .is_some_and(|c| c.call_id.as_deref() == Some(id.as_str())),
        };
        if of_marker {
            break;
        }
        assert!(
            !matches!(u.notice, Notice::Finished { .. }),
            "expected to stay {phase:?}, got {u:#?}"
        );
        assert_eq!(u.snapshot.phase, phase, "phase changed: {u:#?}");
    }
    if phase == Phase::Free {
        // Refused if another device of the user already rejected it as busy.
        let _ = marker
            .call_cancel(beckon_protocol::CallCancel {
                call_id: id.clone(),
                invitees: Vec::new(),
                extended_data: String::new(),
            })
            .await;
        finished(updates).await;
    }
    marker.shutdown().await;
    assert_eq!(m.snapshot().phase, phase);
}

/// `caller` calls `callees`; waits until the caller knows the call ID and every callee
/// manager rings. Returns the call ID.
async fn ring(
    caller: &CallManager,
    caller_up: &mut Updates,
    callees: &mut [&mut Updates],
    to: &[&str],
    call_type: CallType,
) -> String {
    caller.call(users(to), call_type).await.unwrap();
    wait_phase(caller_up, Phase::Outgoing).await;
    let id = call_id(caller).await;
    for up in callees.iter_mut() {
        let u = wait_phase(up, Phase::Incoming).await;
        let call = u.snapshot.call.unwrap();
        assert_eq!(call.call_id.as_deref(), Some(id.as_str()));
    }
    id
}

/// A 1:1 call from `caller` to `callee` (user ID `to`), accepted: both are `InCall`.
async fn talk(
    caller: &CallManager,
    caller_up: &mut Updates,
    callee: &CallManager,
    callee_up: &mut Updates,
    to: &str,
) -> String {
    let id = ring(
        caller,
        caller_up,
        &mut [&mut *callee_up],
        &[to],
        CallType::Voice,
    )
    .await;
    callee.accept().await.unwrap();
    let (by, s) = accepted(callee_up).await;
    assert_eq!(by, to);
    assert_eq!(s.phase, Phase::InCall);
    let (by, s) = accepted(caller_up).await;
    assert_eq!(by, to);
    assert_eq!(s.phase, Phase::InCall);
    id
}

/// `carol` calls the busy user, who is in `phase`: carol hears "busy", the busy user is
/// told once and stays where it was.
async fn busy_user_rejects_carol(
    busy: &CallManager,
    busy_up: &mut Updates,
    busy_id: &str,
    phase: Phase,
    url: &str,
) {
    assert_eq!(busy.snapshot().phase, phase);
    let (carol, mut carol_up) = manager(url, "carol", "carol-1").await;
    carol
        .call(users(&[busy_id]), CallType::Video)
        .await
        .unwrap();
    let (out, carol_call, carol_snap) = finished(&mut carol_up).await;
    assert_eq!(out, Outcome::Busy);
    assert_eq!(carol_snap.phase, Phase::Free);
    let carol_call_id = carol_call.call_id.expect("carol's call reached the server");

    let u = wait_update(busy_up, "rejected busy", |u| {
        matches!(u.notice, Notice::RejectedBusy { .. })
    })
    .await;
    assert_eq!(
        u.notice,
        Notice::RejectedBusy {
            call_id: carol_call_id,
            caller_id: "carol".into(),
            caller_name: "carol name".into(),
            call_type: CallType::Video,
        }
    );
    assert_eq!(u.snapshot.phase, phase, "busy user's phase changed");
    stays(url, busy, busy_up, phase).await;
    // Carol is free again and can be called.
    assert_eq!(carol.snapshot().phase, Phase::Free);
}

/// A proxy whose server-to-client direction can be held up (`stall`), so that a request
/// reaches the server while its answer does not reach the client; `cut_and_block` then
/// drops the connection with the answer undelivered.
struct StallProxy {
    addr: std::net::SocketAddr,
    stalled: Arc<AtomicBool>,
    blocked: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallProxy {
    async fn start(target: std::net::SocketAddr) -> StallProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(AtomicBool::new(false));
        let blocked = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (st, bl, li) = (stalled.clone(), blocked.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if bl.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let st = st.clone();
                let link = tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = inbound.into_split();
                    let (mut sr, mut sw) = outbound.into_split();
                    let up = tokio::io::copy(&mut cr, &mut sw);
                    let down = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while st.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
                li.lock().unwrap().push(link);
            }
        });
        StallProxy {
            addr,
            stalled,
            blocked,
            links,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Drops every connection (and what it held back) and refuses new ones.
    fn cut_and_block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn unblock(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        self.blocked.store(false, Ordering::SeqCst);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Busy auto-reject
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_calling_someone_rejects_a_new_call_as_busy_and_the_call_goes_on() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    busy_user_rejects_carol(
        &alice,
        &mut alice_up,
        "alice",
        Phase::Outgoing,
        &server.url(),
    )
    .await;
    assert_eq!(bob.snapshot().phase, Phase::Incoming);

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    wait_phase(&mut bob_up, Phase::InCall).await;
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

#[tokio::test]
async fn a_ringing_user_rejects_a_new_call_as_busy_and_can_still_answer_the_first() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    busy_user_rejects_carol(&bob, &mut bob_up, "bob", Phase::Incoming, &server.url()).await;
    let s = bob.snapshot();
    assert_eq!(
        s.call.unwrap().call_id.as_deref(),
        Some(id.as_str()),
        "still alice's call"
    );
    assert_eq!(alice.snapshot().phase, Phase::Outgoing);

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut bob_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    bob.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::EndedByPeer);
    assert_eq!(outcome(&mut bob_up).await, Outcome::HungUp);
}

#[tokio::test]
async fn a_user_in_a_call_rejects_a_new_call_as_busy_and_the_call_goes_on() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    busy_user_rejects_carol(&bob, &mut bob_up, "bob", Phase::InCall, &server.url()).await;
    assert_eq!(alice.snapshot().phase, Phase::InCall);

    bob.end().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::HungUp);
    assert_eq!(outcome(&mut alice_up).await, Outcome::EndedByPeer);
}

// ---------------------------------------------------------------------------------------
// 2. Each outcome, seen from the side that gets it
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_accepted_video_call_puts_both_in_call_with_the_callers_name_and_a_start_time() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Video,
    )
    .await;

    let ringing = bob.snapshot().call.unwrap();
    assert_eq!(ringing.call_type, CallType::Video);
    assert_eq!(ringing.caller_id, "alice");
    assert_eq!(ringing.caller_name, "alice name");
    assert!(ringing.ring_until.is_some());
    assert!(ringing.started_at.is_none());

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!(by, "bob");
    assert_eq!(s.phase, Phase::InCall);
    let call = s.call.unwrap();
    assert_eq!(call.call_id.as_deref(), Some(id.as_str()));
    assert_eq!(call.call_type, CallType::Video);
    assert!(call.started_at.is_some());
    assert!(!call.group);
    let (by, s) = accepted(&mut bob_up).await;
    assert_eq!(by, "bob");
    assert_eq!(s.phase, Phase::InCall);
    let call = s.call.unwrap();
    assert_eq!(call.call_type, CallType::Video);
    assert_eq!(call.caller_name, "alice name");
    assert!(call.started_at.is_some());
    assert!(call.ring_until.is_none());

    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

#[tokio::test]
async fn a_declined_call_is_declined_for_the_caller_and_rejected_for_the_callee() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    bob.decline().await.unwrap();
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::Rejected, Phase::Free));
    let (out, call, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::Declined, Phase::Free));
    let bob_member = call.peers.iter().find(|p| p.user_id == "bob").unwrap();
    assert_eq!(bob_member.state, CallUserState::Rejected);
    assert_eq!(bob_member.reason, Some(StateReason::Declined));
    // The server keeps an advanced call with the caller alone in it; alice's manager ends
    // it, so she is not left busy there.
    let id = call.call_id.unwrap();
    let info = ended_on_server(&alice, &id).await;
    let me = info.call_user_list.iter().find(|u| u.user_id == "alice");
    assert_eq!(
        me.unwrap().state,
        CallUserState::Accepted,
        "ended, not quit"
    );
}

/// A 1:1 call whose other side quits (a client that is not a call manager) is ended by the
/// manager: the server would keep it with the user alone in it.
#[tokio::test]
async fn the_other_side_quitting_a_one_to_one_call_ends_it_for_the_user() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_events) = client(&server.url(), "bob", "bob-1").await;
    alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
    let id = call_id(&alice).await;
    wait_event(&mut bob_events, "the invitation", |e| match e {
        Event::InvitationReceived(i) if i.call_id == id => Some(()),
        _ => None,
    })
    .await;
    bob.call_accept(&id, "").await.unwrap();
    accepted(&mut alice_up).await;

    bob.call_quit(&id, "").await.unwrap();
    let (out, _, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::EndedByPeer, Phase::Free));
    let info = ended_on_server(&alice, &id).await;
    let me = info.call_user_list.iter().find(|u| u.user_id == "alice");
    assert_eq!(
        me.unwrap().state,
        CallUserState::Accepted,
        "ended, not quit"
    );
    // Free on the server too: a new call is not refused as `alreadyInCall`.
    alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
    call_id(&alice).await;
    assert_eq!(alice.snapshot().phase, Phase::Outgoing);
}

#[tokio::test]
async fn an_unanswered_call_is_no_answer_for_the_caller_and_missed_for_the_callee() {
    let server = TestServer::start().await;
    let quick = MachineConfig {
        invite_timeout: 1,
        ..MachineConfig::default()
    };
    let (alice, mut alice_up) = manager_with(&server.url(), "alice", "alice-1", quick).await;
    let (_bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    assert_eq!(outcome(&mut bob_up).await, Outcome::Missed);
    assert_eq!(outcome(&mut alice_up).await, Outcome::NoAnswer);
}

#[tokio::test]
async fn a_call_to_a_user_who_is_offline_the_whole_time_is_unreachable() {
    let server = TestServer::start().await;
    let quick = MachineConfig {
        invite_timeout: 1,
        ..MachineConfig::default()
    };
    let (alice, mut alice_up) = manager_with(&server.url(), "alice", "alice-1", quick).await;
    alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
    let (out, call, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::Unreachable, Phase::Free));
    assert!(call.call_id.is_some());
}

#[tokio::test]
async fn a_call_the_caller_cancels_is_cancelled_for_the_caller_and_for_the_callee() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    alice.cancel().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Cancelled);
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::CancelledByCaller, Phase::Free));
    assert_eq!(bob.snapshot().phase, Phase::Free);
}

#[tokio::test]
async fn a_call_answered_on_another_device_stops_ringing_as_answered_elsewhere() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (_bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    bob1.accept().await.unwrap();
    let (out, _, s) = finished(&mut bob2_up).await;
    assert_eq!((out, s.phase), (Outcome::AnsweredElsewhere, Phase::Free));
    wait_phase(&mut bob1_up, Phase::InCall).await;
    wait_phase(&mut alice_up, Phase::InCall).await;
}

#[tokio::test]
async fn a_call_declined_on_another_device_stops_ringing_as_declined_elsewhere() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (_bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    bob1.decline().await.unwrap();
    assert_eq!(outcome(&mut bob1_up).await, Outcome::Rejected);
    let (out, _, s) = finished(&mut bob2_up).await;
    assert_eq!((out, s.phase), (Outcome::DeclinedElsewhere, Phase::Free));
    assert_eq!(outcome(&mut alice_up).await, Outcome::Declined);
}

#[tokio::test]
async fn a_one_to_one_hang_up_ends_the_call_for_both_at_once() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let id = talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    alice.hang_up().await.unwrap();
    let (out, _, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::HungUp, Phase::Free));
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::EndedByPeer, Phase::Free));

    // Bob was told by the server's end event, so the server's call has ended.
    for m in [&bob, &alice] {
        let history = m.history(10).await.unwrap();
        let call = history
            .iter()
            .find(|c| c.call_id == id)
            .expect("in history");
        assert_eq!(call.state, CallState::Ended);
        assert_eq!(call.mode, CallMode::Advanced);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_whose_connection_is_lost_ends_the_call_for_the_caller_and_sees_connection_lost() {
    // The managers learn the 2 s from the server's login answer; nothing here tells them.
    let server = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(2)).await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    let id = talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    proxy.cut_and_block();
    let (out, call, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::EndedByPeer, Phase::Free));
    let bob_member = call.peers.iter().find(|p| p.user_id == "bob").unwrap();
    assert_eq!(bob_member.state, CallUserState::Quit);
    assert_eq!(bob_member.reason, Some(StateReason::ConnectionLost));
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::ConnectionLost, Phase::Free));

    // Back online, bob is free and connected; the server's call is over.
    proxy.unblock();
    until(&bob, "reconnected", |s| {
        matches!(s.connection, Connection::Connected)
    })
    .await;
    assert_eq!(bob.snapshot().phase, Phase::Free);
    let history = bob.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Ended);
}

// ---------------------------------------------------------------------------------------
// 3. Two devices of one user
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn both_devices_of_a_user_ring_and_the_one_not_answering_stops_when_the_other_accepts() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Video,
    )
    .await;
    assert_eq!(bob1.snapshot().phase, Phase::Incoming);
    assert_eq!(bob2.snapshot().phase, Phase::Incoming);

    bob2.accept().await.unwrap();
    let (by, s) = accepted(&mut bob2_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    let (out, call, s) = finished(&mut bob1_up).await;
    assert_eq!((out, s.phase), (Outcome::AnsweredElsewhere, Phase::Free));
    assert_eq!(call.call_id.as_deref(), Some(id.as_str()));
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    stays(&server.url(), &bob1, &mut bob1_up, Phase::Free).await;

    // The device in the call hangs up: the caller is told, the other device stays free.
    bob2.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::EndedByPeer);
    assert_eq!(outcome(&mut bob2_up).await, Outcome::HungUp);
    assert_eq!(bob1.snapshot().phase, Phase::Free);
}

// ---------------------------------------------------------------------------------------
// 4. Group calls
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn in_a_group_call_the_caller_can_leave_and_the_others_go_on() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up, &mut carol_up],
        &["bob", "carol"],
        CallType::Voice,
    )
    .await;
    assert!(alice.snapshot().call.unwrap().group);
    assert!(carol.snapshot().call.unwrap().group);

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    wait_phase(&mut bob_up, Phase::InCall).await;
    // Carol sees bob accept, and keeps ringing.
    until(&carol, "bob accepted", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "bob" && p.state == CallUserState::Accepted)
        })
    })
    .await;
    assert_eq!(carol.snapshot().phase, Phase::Incoming);

    alice.leave().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Left);
    // Bob is still in the call and sees alice quit; carol still rings.
    let s = until(&bob, "alice quit", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "alice" && p.state == CallUserState::Quit)
        })
    })
    .await;
    assert_eq!(s.phase, Phase::InCall);
    stays(&server.url(), &carol, &mut carol_up, Phase::Incoming).await;
    stays(&server.url(), &bob, &mut bob_up, Phase::InCall).await;

    carol.accept().await.unwrap();
    let (by, s) = accepted(&mut carol_up).await;
    assert_eq!((by.as_str(), s.phase), ("carol", Phase::InCall));
    until(&bob, "carol accepted", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "carol" && p.state == CallUserState::Accepted)
        })
    })
    .await;

    // In a group call hang-up means leave; the last one left stays in the call (it may
    // invite others) until it leaves too, which ends the call.
    carol.hang_up().await.unwrap();
    assert_eq!(outcome(&mut carol_up).await, Outcome::Left);
    let s = until(&bob, "carol quit", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "carol" && p.state == CallUserState::Quit)
        })
    })
    .await;
    assert_eq!(s.phase, Phase::InCall);
    let history = bob.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Started);
    bob.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::Left);
    ended_on_server(&bob, &id).await;
}

#[tokio::test]
async fn ending_a_group_call_ends_it_for_those_in_it_and_stops_the_ringing() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up, &mut carol_up],
        &["bob", "carol"],
        CallType::Voice,
    )
    .await;
    bob.accept().await.unwrap();
    accepted(&mut alice_up).await;
    wait_phase(&mut bob_up, Phase::InCall).await;
    assert_eq!(carol.snapshot().phase, Phase::Incoming);

    alice.end().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
    assert_eq!(outcome(&mut carol_up).await, Outcome::CancelledByCaller);
    let history = carol.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Ended);
}

#[tokio::test]
async fn inviting_a_third_person_into_a_one_to_one_call_rings_them_and_makes_it_a_group() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let (dave, mut dave_up) = manager(&server.url(), "dave", "dave-1").await;
    let id = talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;
    assert!(!alice.snapshot().call.unwrap().group);

    alice.invite_more(users(&["dave"])).await.unwrap();
    let u = wait_phase(&mut dave_up, Phase::Incoming).await;
    let ringing = u.snapshot.call.unwrap();
    assert_eq!(ringing.call_id.as_deref(), Some(id.as_str()));
    assert_eq!(ringing.caller_id, "alice");
    assert!(ringing.group);
    let s = until(&alice, "dave invited, no request pending", |s| {
        s.call.as_ref().is_some_and(|c| {
            !c.working
                && c.peers
                    .iter()
                    .any(|p| p.user_id == "dave" && p.state == CallUserState::Received)
        })
    })
    .await;
    assert!(s.call.unwrap().group);
    assert_eq!(s.phase, Phase::InCall);
    let s = until(&bob, "a group with dave", |s| {
        s.call.as_ref().is_some_and(|c| c.group)
    })
    .await;
    assert_eq!(s.phase, Phase::InCall);

    dave.accept().await.unwrap();
    let (by, s) = accepted(&mut dave_up).await;
    assert_eq!((by.as_str(), s.phase), ("dave", Phase::InCall));

    // Now a group: alice's hang-up is a leave, bob and dave go on until bob ends it.
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Left);
    stays(&server.url(), &bob, &mut bob_up, Phase::InCall).await;
    bob.end().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::HungUp);
    assert_eq!(outcome(&mut dave_up).await, Outcome::EndedByPeer);
}

// ---------------------------------------------------------------------------------------
// 5. Invitations from clients that are not a call manager
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn foreign_or_broken_extended_data_rings_as_a_voice_call_and_leaves_the_manager_usable() {
    let server = TestServer::start().await;
    let (mallory, mut mallory_events) = client(&server.url(), "mallory", "mallory-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;

    let cases = [
        ("not json", CallType::Voice, "mallory name"),
        ("{\"type\":7}", CallType::Voice, "mallory name"),
        (
            "{\"type\":\"video_call\",\"callerUserName\":\"Mal Display\"}",
            CallType::Video,
            "Mal Display",
        ),
    ];
    for (data, call_type, name) in cases {
        let invite = CallInvite {
            invitees: users(&["bob"]),
            timeout: Some(30),
            mode: CallMode::Advanced,
            extended_data: data.into(),
            push_config: None,
        };
        let id = mallory.call_invite(invite).await.unwrap().call_id;
        let u = wait_phase(&mut bob_up, Phase::Incoming).await;
        let call = u.snapshot.call.unwrap();
        assert_eq!(call.call_id.as_deref(), Some(id.as_str()), "{data}");
        assert_eq!(call.call_type, call_type, "{data}");
        assert_eq!(call.caller_id, "mallory", "{data}");
        assert_eq!(call.caller_name, name, "{data}");

        bob.decline().await.unwrap();
        assert_eq!(outcome(&mut bob_up).await, Outcome::Rejected, "{data}");
        // Mallory is alone in her advanced call once bob declines: she ends it to call again.
        wait_event(&mut mallory_events, "bob's decline", |e| match e {
            Event::UserStateChanged(c) if c.call_id == id => Some(()),
            _ => None,
        })
        .await;
        mallory.call_end(&id, "").await.unwrap();
    }

    // Bob is still usable: a normal call from alice works.
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;
    assert_eq!(bob.snapshot().call.unwrap().caller_name, "alice name");
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

#[tokio::test]
async fn an_answer_meant_for_a_call_that_stopped_ringing_does_not_pick_up_the_next_one() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let first = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;
    alice.cancel().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::CancelledByCaller);

    let second = ring(
        &carol,
        &mut carol_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;
    let stale = ActionError::NotRinging {
        call_id: first.clone(),
    };
    assert_eq!(bob.accept_call(&first).await, Err(stale.clone()));
    assert_eq!(bob.decline_call(&first).await, Err(stale));
    stays(&server.url(), &bob, &mut bob_up, Phase::Incoming).await;
    stays(&server.url(), &carol, &mut carol_up, Phase::Outgoing).await;

    bob.accept_call(&second).await.unwrap();
    let (by, s) = accepted(&mut bob_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    let (by, s) = accepted(&mut carol_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    carol.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

// ---------------------------------------------------------------------------------------
// 6. Connection drops: the manager catches up after a reconnect
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_whose_connection_is_lost_while_calling_stops_the_ringing() {
    let server = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(2)).await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&proxy.url(), "alice", "alice-1").await;
    let (_bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    proxy.cut_and_block();
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::CancelledByCaller, Phase::Free));
    let (out, _, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::ConnectionLost, Phase::Free));
}

#[tokio::test]
async fn a_short_drop_during_a_call_changes_nothing() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    proxy.cut();
    let u = wait_update(&mut bob_up, "reconnecting", |u| {
        !matches!(u.snapshot.connection, Connection::Connected)
    })
    .await;
    assert_eq!(u.snapshot.phase, Phase::InCall);
    let u = wait_update(&mut bob_up, "reconnected", |u| {
        matches!(u.snapshot.connection, Connection::Connected)
    })
    .await;
    assert_eq!(u.snapshot.phase, Phase::InCall);
    stays(&server.url(), &bob, &mut bob_up, Phase::InCall).await;
    stays(&server.url(), &alice, &mut alice_up, Phase::InCall).await;

    // The server still has bob in the call on the new connection.
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

#[tokio::test]
async fn a_decline_made_while_offline_reaches_the_caller_after_the_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &bob).await;
    bob.decline().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::Rejected);
    // Bob is offline: nothing can have reached alice. The outcome after the reconnect is
    // the next one, so no earlier ending slipped in.
    assert_eq!(alice.snapshot().phase, Phase::Outgoing);
    proxy.unblock();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Declined);
}

#[tokio::test]
async fn a_call_ended_while_the_peer_was_offline_ends_for_them_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    go_offline(&proxy, &bob).await;
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
    // The outcome after the reconnect is the next one: bob did not end the call earlier.
    assert_eq!(bob.snapshot().phase, Phase::InCall);
    proxy.unblock();
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

#[tokio::test]
async fn a_call_cancelled_while_the_callee_was_offline_stops_ringing_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &bob).await;
    alice.cancel().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Cancelled);
    // The outcome after the reconnect is the next one: bob did not stop ringing earlier.
    assert_eq!(bob.snapshot().phase, Phase::Incoming);
    proxy.unblock();
    assert_eq!(outcome(&mut bob_up).await, Outcome::CancelledByCaller);
}

#[tokio::test]
async fn a_call_answered_on_another_device_while_this_one_was_offline_stops_ringing_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&proxy.url(), "bob", "bob-1").await;
    let (bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &bob1).await;
    bob2.accept().await.unwrap();
    wait_phase(&mut bob2_up, Phase::InCall).await;
    wait_phase(&mut alice_up, Phase::InCall).await;
    proxy.unblock();
    assert_eq!(outcome(&mut bob1_up).await, Outcome::AnsweredElsewhere);
}

#[tokio::test]
async fn a_call_accepted_while_the_caller_was_offline_is_in_call_for_the_caller_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&proxy.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &alice).await;
    bob.accept().await.unwrap();
    wait_phase(&mut bob_up, Phase::InCall).await;
    proxy.unblock();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
}

// ---------------------------------------------------------------------------------------
// 7. Busy is per device
// ---------------------------------------------------------------------------------------

/// Busy is decided by each device's manager: a second, free device of a busy user rings
/// until the busy device's automatic "busy" reaches it. (Today it then finishes with
/// `DeclinedElsewhere`, as if the user had declined on the other device.)
#[tokio::test]
async fn a_user_busy_on_one_device_is_busy_for_the_caller_and_the_other_device_stops_ringing() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;
    bob1.accept().await.unwrap();
    wait_phase(&mut bob1_up, Phase::InCall).await;
    assert_eq!(outcome(&mut bob2_up).await, Outcome::AnsweredElsewhere);

    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    carol.call(users(&["bob"]), CallType::Voice).await.unwrap();
    assert_eq!(outcome(&mut carol_up).await, Outcome::Busy);
    let u = wait_update(&mut bob1_up, "rejected busy", |u| {
        matches!(u.notice, Notice::RejectedBusy { .. })
    })
    .await;
    assert_eq!(u.snapshot.phase, Phase::InCall);
    until(&bob2, "not ringing", |s| s.phase == Phase::Free).await;
    stays(&server.url(), &bob1, &mut bob1_up, Phase::InCall).await;
    assert_eq!(alice.snapshot().phase, Phase::InCall);
}

// ---------------------------------------------------------------------------------------
// 8. Calling again at once (known bug: requests can overtake each other)
// ---------------------------------------------------------------------------------------

const PACE: Duration = Duration::from_millis(120);

/// `Outcome::Failed` if the redial was refused, else `None` (and the redial is cancelled).
async fn redial(
    alice: &CallManager,
    alice_up: &mut Updates,
    bob_up: &mut Updates,
) -> Option<Outcome> {
    let u = wait_update(alice_up, "the redial", |u| {
        matches!(u.notice, Notice::Finished { .. })
            || u.snapshot
                .call
                .as_ref()
                .is_some_and(|c| c.call_id.is_some())
    })
    .await;
    if let Notice::Finished { outcome, .. } = u.notice {
        return Some(outcome);
    }
    wait_phase(bob_up, Phase::Incoming).await;
    alice.cancel().await.unwrap();
    assert_eq!(outcome(alice_up).await, Outcome::Cancelled);
    assert_eq!(outcome(bob_up).await, Outcome::CancelledByCaller);
    None
}

/// Each request is sent from its own task, so the `callEnd` of a hang-up and the
/// `callInvite` of a call made right after it could reach the server in either order; the
/// driver makes a new call wait for the hang-up, or the server would refuse it (`3003`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_again_right_after_hanging_up_is_not_refused_as_already_in_a_call() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    for round in 0..40 {
        talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;
        alice.hang_up().await.unwrap();
        alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
        assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
        assert_eq!(outcome(&mut bob_up).await, Outcome::EndedByPeer);
        let refused = redial(&alice, &mut alice_up, &mut bob_up).await;
        assert_eq!(refused, None, "round {round}");
        // Stay well under the server's rate limit (50 requests a second).
        tokio::time::sleep(PACE).await;
    }
}

/// As above, with the `callCancel` of a cancelled outgoing call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_again_right_after_cancelling_is_not_refused_as_already_in_a_call() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (_bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    for round in 0..40 {
        ring(
            &alice,
            &mut alice_up,
            &mut [&mut bob_up],
            &["bob"],
            CallType::Voice,
        )
        .await;
        alice.cancel().await.unwrap();
        alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
        assert_eq!(outcome(&mut alice_up).await, Outcome::Cancelled);
        assert_eq!(outcome(&mut bob_up).await, Outcome::CancelledByCaller);
        let refused = redial(&alice, &mut alice_up, &mut bob_up).await;
        assert_eq!(refused, None, "round {round}");
        // Stay well under the server's rate limit (50 requests a second).
        tokio::time::sleep(PACE).await;
    }
}

// ---------------------------------------------------------------------------------------
// 9. An accept whose answer is lost
// ---------------------------------------------------------------------------------------

/// Was a bug (fixed in machine.rs): the manager gave up on an accept whose answer was lost
/// with the connection, while the server had accepted it, so the user stayed in the call on
/// the server (the caller talking to nobody, every new call refused with `alreadyInCall`).
#[tokio::test]
async fn an_accept_whose_answer_is_lost_with_the_connection_does_not_leave_the_user_in_the_call() {
    let server = TestServer::start().await;
    let proxy = StallProxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    // The accept reaches the server; its answer does not reach bob.
    proxy.stall();
    bob.accept().await.unwrap();
    let (by, _) = accepted(&mut alice_up).await;
    assert_eq!(by, "bob");
    proxy.cut_and_block();
    let (out, _, s) = finished(&mut bob_up).await;
    assert!(matches!(out, Outcome::Failed { .. }), "{out:?}");
    assert_eq!(s.phase, Phase::Free);

    // Back online, bob is out of the call on the server too.
    proxy.unblock();
    assert_eq!(outcome(&mut alice_up).await, Outcome::EndedByPeer);
    let history = alice.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Ended);
    let (_carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    ring(
        &bob,
        &mut bob_up,
        &mut [&mut carol_up],
        &["carol"],
        CallType::Voice,
    )
    .await;
    bob.cancel().await.unwrap();
    assert_eq!(outcome(&mut carol_up).await, Outcome::CancelledByCaller);
}

/// Seen once over real sockets under load: the accept's answer and the
/// server's events reach the machine through different channels, so "the call ended"
/// (the caller hung up just after the accept landed) can be handled before "your accept
/// went through". The machine must not say `CancelledByCaller` for a call the
/// user answered.
#[test]
fn a_call_ended_just_after_this_user_accepted_it_is_ended_by_the_peer_not_cancelled() {
    let user = |id: &str, state| CallUserInfo {
        user_id: id.into(),
        state,
        extended_data: String::new(),
        reason: None,
        inviter: "alice".into(),
        update_time: 1,
    };
    let mut m = Machine::new("bob", "bob name", MachineConfig::default());
    m.event(
        Event::InvitationReceived(InvitationInfo {
            call_id: "c1".into(),
            caller: "alice".into(),
            caller_name: "alice name".into(),
            inviter: "alice".into(),
            mode: CallMode::Advanced,
            timeout: 60,
            create_time: 1,
            expire_time: None,
            extended_data: String::new(),
            push_config: None,
            call_user_list: vec![
                user("alice", CallUserState::Accepted),
                user("bob", CallUserState::Received),
            ],
        }),
        1,
    );
    let sent = m.intent(Intent::Accept { call_id: None }, 2).unwrap();
    let accept = sent
        .iter()
        .find_map(|e| match e {
            Effect::Send {
                op,
                request: Op::Accept { .. },
            } => Some(*op),
            _ => None,
        })
        .unwrap();
    let mut effects = m.event(
        Event::InvitationEnded(CallInvitationEnded {
            call_id: "c1".into(),
            caller: "alice".into(),
            mode: CallMode::Advanced,
            operated_user_id: "alice".into(),
            extended_data: String::new(),
            end_time: 3,
        }),
        3,
    );
    effects.extend(m.done(accept, OpResult::Done, 4));
    let outcomes: Vec<Outcome> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(u) => match &u.notice {
                Notice::Finished { outcome, .. } => Some(outcome.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, vec![Outcome::EndedByPeer]);
    assert_eq!(m.phase(), Phase::Free);
}
