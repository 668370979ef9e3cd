//! The seed's two tables, cell by cell, over real sockets in both modes: which request each
//! user state may make (the rest get `stateForbidden` with the state, or `advancedModeOnly`
//! in normal mode), and which event each user state receives.
//!
//! The `inviting` row is special in Beckon: `inviting` means no device of the user has
//! been told, and a device is told the moment it logs in, so no logged-in device can ever
//! act from `inviting`. Its API row is covered by the unit test in `core::table`; its event
//! row is checked here as "an offline invitee gets the invitation when it logs in, and a
//! dead invitation (cancelled, timed out) is not delivered".
mod common;

use beckon_client::Requests;
use std::sync::atomic::{AtomicU32, Ordering};

use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    format!("{name}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Api {
    Accept,
    Reject,
    CallingInvite,
    Quit,
    End,
}

const APIS: [Api; 5] = [
    Api::Accept,
    Api::Reject,
    Api::CallingInvite,
    Api::Quit,
    Api::End,
];

/// The seed's API table.
fn seed_allows(state: CallUserState, api: Api) -> bool {
    match state {
        Inviting | Received => matches!(api, Api::Accept | Api::Reject),
        Accepted => matches!(api, Api::CallingInvite | Api::Quit | Api::End),
        _ => false,
    }
}

/// A call in `mode` where `subject` is in `state`, with the caller still in the call.
struct Setup {
    caller: User,
    subject: User,
    call_id: String,
}

async fn setup(s: &TestServer, mode: CallMode, state: CallUserState) -> Setup {
    let caller = s.user(&unique("caller")).await;
    let mut subject = s.user(&unique("subject")).await;
    // A third, accepted member: in advanced mode the subject is one of a group, as in the
    // seed's examples of calling invitations.
    let mut keeper = s.user(&unique("keeper")).await;
    let timeout = if state == Timeout { 1 } else { 60 };
    let invitees = if mode == CallMode::Advanced {
        vec![subject.id.as_str(), keeper.id.as_str()]
    } else {
        vec![subject.id.as_str()]
    };
    if mode == CallMode::Advanced && state == Timeout {
        // Only the subject may time out: it is invited later, with a short timeout.
        let sent = caller.invite(&[&keeper.id], mode, 60).await;
        keeper.received().await;
        keeper.client.call_accept(&sent.call_id, "").await.unwrap();
        caller
            .client
            .calling_invite(CallingInvite {
                call_id: sent.call_id.clone(),
                invitees: vec![subject.id.clone()],
                timeout: Some(1),
                extended_data: String::new(),
                push_config: None,
            })
            .await
            .unwrap();
        subject.received().await;
        subject
            .wait_for("timeout", |e| {
                matches!(e, ServerMessage::CallInvitationTimeout(_)).then_some(())
            })
            .await;
        return Setup {
            caller,
            subject,
            call_id: sent.call_id,
        };
    }
    let sent = caller.invite(&invitees, mode, timeout).await;
    let call_id = sent.call_id.clone();
    subject.received().await;
    if mode == CallMode::Advanced {
        keeper.received().await;
        keeper.client.call_accept(&call_id, "").await.unwrap();
    }
    match state {
        Received => {}
        Accepted => {
            subject.client.call_accept(&call_id, "").await.unwrap();
        }
        Rejected => {
            subject
                .client
                .call_reject(&call_id, "", RejectReason::Declined)
                .await
                .unwrap();
        }
        Cancelled => {
            // Cancelling is only possible before anyone accepted: cancel the subject in a
            // call of its own (the keeper is not needed there).
            let c = s.user(&unique("caller")).await;
            let sent = c.invite(&[&subject.id], mode, 60).await;
            subject.received().await;
            c.client
                .call_cancel(cancel_all(&sent.call_id))
                .await
                .unwrap();
            subject
                .wait_for("cancelled", |e| {
                    matches!(e, ServerMessage::CallInvitationCancelled(_)).then_some(())
                })
                .await;
            return Setup {
                caller: c,
                subject,
                call_id: sent.call_id,
            };
        }
        Timeout => {
            subject
                .wait_for("timeout", |e| {
                    matches!(e, ServerMessage::CallInvitationTimeout(_)).then_some(())
                })
                .await;
        }
        Quit => {
            subject.client.call_accept(&call_id, "").await.unwrap();
            subject.client.call_quit(&call_id, "").await.unwrap();
        }
        Inviting => unreachable!("see the module comment"),
    }
    Setup {
        caller,
        subject,
        call_id,
    }
}

async fn try_api(s: &TestServer, who: &User, call_id: &str, api: Api) -> Result<(), ErrorBody> {
    let c = &who.client;
    let r = match api {
        Api::Accept => c.call_accept(call_id, "").await.map(drop),
        Api::Reject => c
            .call_reject(call_id, "", RejectReason::Declined)
            .await
            .map(drop),
        Api::CallingInvite => {
            let newcomer = s.user(&unique("new")).await;
            c.calling_invite(CallingInvite {
                call_id: call_id.to_string(),
                invitees: vec![newcomer.id.clone()],
                timeout: Some(60),
                extended_data: String::new(),
                push_config: None,
            })
            .await
            .map(drop)
        }
        Api::Quit => c.call_quit(call_id, "").await.map(drop),
        Api::End => c.call_end(call_id, "").await.map(drop),
    };
    r.map_err(|e| match e {
        beckon_client::WireError::Server(b) => b,
        other => panic!("{api:?}: not a server answer: {other}"),
    })
}

async fn check_row(mode: CallMode, state: CallUserState) {
    let s = TestServer::start().await;
    for api in APIS {
        let advanced_only = matches!(api, Api::CallingInvite | Api::Quit | Api::End);
        let st = setup(&s, mode, state).await;
        let got = try_api(&s, &st.subject, &st.call_id, api).await;
        let ctx = format!("{mode:?} {state:?} {api:?}");
        if mode == CallMode::Normal && advanced_only {
            assert_eq!(got.unwrap_err().code, ErrorCode::AdvancedModeOnly, "{ctx}");
        } else if seed_allows(state, api) {
            got.unwrap_or_else(|e| panic!("{ctx}: refused: {e:?}"));
        } else {
            let e = got.expect_err(&ctx);
            assert_eq!(e.code, ErrorCode::StateForbidden, "{ctx}: {e:?}");
            assert_eq!(e.state, Some(state), "{ctx}");
        }
        drop(st.caller);
    }
}

macro_rules! rows {
    ($($name:ident: $mode:expr, $state:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            check_row($mode, $state).await;
        }
    )*};
}

rows! {
    api_row_received_normal: CallMode::Normal, Received;
    api_row_received_advanced: CallMode::Advanced, Received;
    api_row_accepted_normal: CallMode::Normal, Accepted;
    api_row_accepted_advanced: CallMode::Advanced, Accepted;
    api_row_rejected_normal: CallMode::Normal, Rejected;
    api_row_rejected_advanced: CallMode::Advanced, Rejected;
    api_row_cancelled_normal: CallMode::Normal, Cancelled;
    api_row_cancelled_advanced: CallMode::Advanced, Cancelled;
    api_row_timeout_normal: CallMode::Normal, Timeout;
    api_row_timeout_advanced: CallMode::Advanced, Timeout;
    api_row_quit_advanced: CallMode::Advanced, Quit;
}

/// `callInvite` does not depend on the state in a call, only on not being in one.
#[tokio::test]
async fn call_invite_needs_only_to_be_out_of_calls() {
    let s = TestServer::start().await;
    for state in [Received, Rejected, Timeout] {
        let st = setup(&s, CallMode::Normal, state).await;
        let other = unique("x");
        st.subject
            .client
            .call_invite(invite(&[&other], CallMode::Normal, 60))
            .await
            .unwrap_or_else(|e| panic!("{state:?}: {e}"));
    }
    let st = setup(&s, CallMode::Advanced, Accepted).await;
    assert_eq!(
        code(
            st.subject
                .client
                .call_invite(invite(&["zed"], CallMode::Normal, 60))
                .await
        ),
        ErrorCode::AlreadyInCall
    );
}

// ---- the event table ----

fn kinds(events: &[ServerMessage]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            ServerMessage::CallInvitationReceived(_) => "received",
            ServerMessage::CallInvitationTimeout(_) => "timeout",
            ServerMessage::CallInvitationCancelled(_) => "cancelled",
            ServerMessage::CallInvitationEnded(_) => "ended",
            ServerMessage::CallUserStateChanged(_) => "stateChanged",
            ServerMessage::CallInvitationCreated(_) => "created",
            _ => "other",
        })
        .collect()
}

/// A group of members in every state of an advanced call: alice and bob accepted, carol
/// quit, dave rejected, erin timed out, frank cancelled, gina received.
struct Crowd {
    s: TestServer,
    call_id: String,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    erin: User,
    frank: User,
    gina: User,
}

async fn crowd() -> Crowd {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let mut dave = s.user("dave").await;
    let mut erin = s.user("erin").await;
    let mut frank = s.user("frank").await;
    let mut gina = s.user("gina").await;
    let sent = alice
        .invite(&["bob", "carol", "dave"], CallMode::Advanced, 60)
        .await;
    let id = sent.call_id.clone();
    for u in [&mut bob, &mut carol, &mut dave] {
        u.received().await;
    }
    bob.client.call_accept(&id, "").await.unwrap();
    carol.client.call_accept(&id, "").await.unwrap();
    carol.client.call_quit(&id, "").await.unwrap();
    dave.client
        .call_reject(&id, "", RejectReason::Declined)
        .await
        .unwrap();
    let more = |users: &[&str], timeout| CallingInvite {
        call_id: id.clone(),
        invitees: users.iter().map(|u| u.to_string()).collect(),
        timeout: Some(timeout),
        extended_data: String::new(),
        push_config: None,
    };
    alice
        .client
        .calling_invite(more(&["erin"], 1))
        .await
        .unwrap();
    alice
        .client
        .calling_invite(more(&["frank", "gina"], 60))
        .await
        .unwrap();
    erin.received().await;
    erin.wait_for("timeout", |e| {
        matches!(e, ServerMessage::CallInvitationTimeout(_)).then_some(())
    })
    .await;
    frank.received().await;
    gina.received().await;
    let c = CallCancel {
        call_id: id.clone(),
        invitees: vec!["frank".into()],
        extended_data: String::new(),
    };
    alice.client.call_cancel(c).await.unwrap();
    frank
        .wait_for("cancelled", |e| {
            matches!(e, ServerMessage::CallInvitationCancelled(_)).then_some(())
        })
        .await;
    let mut crowd = Crowd {
        s,
        call_id: id,
        alice,
        bob,
        carol,
        dave,
        erin,
        frank,
        gina,
    };
    // Start every check from silence.
    for u in crowd.all() {
        u.drain().await;
    }
    let info = history_call(&crowd.alice, &crowd.call_id).await;
    let states: Vec<_> = info
        .call_user_list
        .iter()
        .map(|u| (u.user_id.as_str(), u.state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("alice", Accepted),
            ("bob", Accepted),
            ("carol", Quit),
            ("dave", Rejected),
            ("erin", Timeout),
            ("frank", Cancelled),
            ("gina", Received),
        ]
    );
    crowd
}

impl Crowd {
    fn all(&mut self) -> [&mut User; 7] {
        [
            &mut self.alice,
            &mut self.bob,
            &mut self.carol,
            &mut self.dave,
            &mut self.erin,
            &mut self.frank,
            &mut self.gina,
        ]
    }
}

#[tokio::test]
async fn state_changed_goes_to_accepted_received_and_quit_only() {
    let mut c = crowd().await;
    // A state change made by someone else: bob quits. Listeners per the seed: accepted
    // (alice), received (gina), quit (carol); not rejected, timeout or cancelled.
    c.bob.client.call_quit(&c.call_id, "bye").await.unwrap();
    assert_eq!(c.alice.state_of("bob").await.state, Quit);
    assert_eq!(c.carol.state_of("bob").await.state, Quit);
    assert_eq!(c.gina.state_of("bob").await.state, Quit);
    for u in [&mut c.dave, &mut c.erin, &mut c.frank] {
        u.silent().await;
    }
    c.bob.silent().await; // the acting device got the response instead
}

#[tokio::test]
async fn ended_goes_to_inviting_received_and_accepted_only() {
    let mut c = crowd().await;
    c.alice.client.call_end(&c.call_id, "done").await.unwrap();
    for u in [&mut c.bob, &mut c.gina] {
        let e = u
            .wait_for("ended", |e| match e {
                ServerMessage::CallInvitationEnded(e) => Some(e.clone()),
                _ => None,
            })
            .await;
        assert_eq!(e.operated_user_id, "alice");
        assert_eq!(e.extended_data, "done");
    }
    for u in [&mut c.carol, &mut c.dave, &mut c.erin, &mut c.frank] {
        let got = u.drain().await;
        assert!(!kinds(&got).contains(&"ended"), "{}: {got:?}", u.id);
    }
    // Everyone keeps their state; the call is ended.
    let info = history_call(&c.gina, &c.call_id).await;
    assert_eq!(info.state, CallState::Ended);
    assert_eq!(state_in(&info.call_user_list, "gina"), Received);
    let _ = &c.s;
}

#[tokio::test]
async fn cancelled_and_timeout_go_to_the_pending_invitee_only() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut alice2 = s.device("alice", "alice-2").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let mut dave = s.user("dave").await;
    let sent = alice
        .invite(&["bob", "carol", "dave"], CallMode::Normal, 60)
        .await;
    for u in [&mut bob, &mut carol, &mut dave] {
        u.received().await;
    }
    dave.client
        .call_reject(&sent.call_id, "", RejectReason::Declined)
        .await
        .unwrap();
    for u in [&mut alice, &mut alice2, &mut bob, &mut carol, &mut dave] {
        u.drain().await;
    }
    alice
        .client
        .call_cancel(cancel_all(&sent.call_id))
        .await
        .unwrap();
    for u in [&mut bob, &mut carol] {
        let got = u.drain().await;
        assert_eq!(kinds(&got), vec!["cancelled"], "{}", u.id);
    }
    // The caller (accepted) gets no cancelled event; its other device sees the states.
    alice.silent().await;
    assert_eq!(kinds(&alice2.drain().await), vec!["stateChanged"]);
    dave.silent().await;

    // Timeout: only the pending invitee gets the timeout event; the caller a state change.
    let sent = alice.invite(&["bob", "carol"], CallMode::Normal, 1).await;
    bob.received().await;
    carol.received().await;
    carol.client.call_accept(&sent.call_id, "").await.unwrap();
    // bob is received, so it listens to carol's answer.
    assert_eq!(bob.state_of("carol").await.state, Accepted);
    // The timeout itself proves the deadline fired; the others' events of the same moment
    // are in by the time their `silent` marker is answered.
    assert_eq!(kinds(&[bob.next().await]), vec!["timeout"]);
    bob.silent().await;
    assert_eq!(alice.state_of("bob").await.state, Timeout);
    alice.silent().await;
    assert_eq!(carol.state_of("bob").await.state, Timeout);
    carol.silent().await;
}

#[tokio::test]
async fn inviting_row_offline_invitee_gets_live_invitations_only() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let live = alice.invite(&["bob"], CallMode::Normal, 60).await;
    assert_eq!(state_in(&live.call_user_list, "bob"), Inviting);
    alice
        .client
        .call_cancel(cancel_all(&live.call_id))
        .await
        .unwrap();
    let live = s
        .user("carol")
        .await
        .invite(&["bob"], CallMode::Normal, 60)
        .await;
    let mut bob = s.user("bob").await;
    let got = bob.drain().await;
    assert_eq!(
        kinds(&got),
        vec!["received"],
        "only the call still ringing: {got:?}"
    );
    let ServerMessage::CallInvitationReceived(inv) = &got[0] else {
        unreachable!()
    };
    assert_eq!(inv.call_id, live.call_id);
    alice.silent().await;
}
