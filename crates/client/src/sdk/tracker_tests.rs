//! The tracker's promise: every invitation is told once, repeats are dropped, and a resync
//! reports exactly what changed while away.

use beckon_protocol::*;

use super::tracker::Tracker;
use super::Event;

fn member(user: &str, state: CallUserState, at: u64) -> CallUserInfo {
    CallUserInfo {
        user_id: user.into(),
        state,
        extended_data: String::new(),
        reason: None,
        inviter: "alice".into(),
        update_time: at,
    }
}

fn invitation(call_id: &str, bob: CallUserState) -> ServerMessage {
    ServerMessage::CallInvitationReceived(InvitationInfo {
        call_id: call_id.into(),
        caller: "alice".into(),
        caller_name: "Alice".into(),
        inviter: "alice".into(),
        mode: CallMode::Advanced,
        timeout: 30,
        create_time: 1_000,
        expire_time: Some(31_000),
        extended_data: String::new(),
        push_config: None,
        call_user_list: vec![
            member("alice", CallUserState::Accepted, 1_000),
            member("bob", bob, 1_000),
        ],
    })
}

fn call(call_id: &str, state: CallState, bob: CallUserState, bob_at: u64) -> CallInfo {
    CallInfo {
        call_id: call_id.into(),
        caller: "alice".into(),
        caller_name: "Alice".into(),
        mode: CallMode::Advanced,
        state,
        create_time: 1_000,
        end_time: if state == CallState::Ended { bob_at } else { 0 },
        extended_data: String::new(),
        call_user_list: vec![
            member("alice", CallUserState::Accepted, 1_000),
            member("bob", bob, bob_at),
        ],
    }
}

#[test]
fn a_repushed_invitation_is_told_once() {
    let mut t = Tracker::new("bob");
    assert!(matches!(
        t.on_server(invitation("c1", CallUserState::Received), 10),
        Some(Event::InvitationReceived(_))
    ));
    assert_eq!(
        t.on_server(invitation("c1", CallUserState::Received), 20),
        None
    );
}

#[test]
fn a_settled_invitation_is_not_told_again() {
    let mut t = Tracker::new("bob");
    t.on_server(invitation("c1", CallUserState::Received), 10);
    let timeout = ServerMessage::CallInvitationTimeout(CallInvitationTimeout {
        call_id: "c1".into(),
    });
    assert!(t.on_server(timeout.clone(), 20).is_some());
    assert_eq!(t.on_server(timeout, 30), None);
    assert_eq!(
        t.on_server(invitation("c1", CallUserState::Received), 40),
        None
    );
}

#[test]
fn unchanged_members_are_filtered_from_state_changes() {
    let mut t = Tracker::new("alice");
    t.on_server(invitation("c1", CallUserState::Received), 10);
    let change = |state| {
        ServerMessage::CallUserStateChanged(CallUserStateChanged {
            call_id: "c1".into(),
            call_user_list: vec![member("bob", state, 50)],
        })
    };
    assert!(t.on_server(change(CallUserState::Accepted), 60).is_some());
    assert_eq!(t.on_server(change(CallUserState::Accepted), 70), None);
}

#[test]
fn resync_reports_a_cancel_that_happened_while_away() {
    let mut t = Tracker::new("bob");
    t.on_server(invitation("c1", CallUserState::Received), 10);
    let mut info = call("c1", CallState::Ended, CallUserState::Cancelled, 5_000);
    info.call_user_list[1].reason = Some(StateReason::CallerGone);
    let events = t.resync(std::slice::from_ref(&info), 4_000, 6_000);
    assert!(
        matches!(&events[..], [Event::InvitationCancelled(c), Event::InvitationEnded(_)]
            if c.reason == StateReason::CallerGone),
        "{events:?}"
    );
    assert!(t.resync(&[info], 4_000, 7_000).is_empty(), "told twice");
}

#[test]
fn resync_reports_an_answer_from_another_device() {
    let mut t = Tracker::new("bob");
    t.on_server(invitation("c1", CallUserState::Received), 10);
    let info = call("c1", CallState::Started, CallUserState::Accepted, 5_000);
    let events = t.resync(std::slice::from_ref(&info), 4_000, 6_000);
    assert!(matches!(&events[..], [Event::UserStateChanged(c)]
        if c.call_user_list.len() == 1 && c.call_user_list[0].user_id == "bob"));
    assert!(t.resync(&[info], 4_000, 7_000).is_empty());
}

#[test]
fn own_actions_are_not_reported_back() {
    let mut t = Tracker::new("bob");
    t.on_server(invitation("c1", CallUserState::Received), 10);
    t.note_own("c1", CallUserState::Accepted, 20);
    let info = call("c1", CallState::Started, CallUserState::Accepted, 15);
    assert!(t.resync(&[info], 4_000, 6_000).is_empty());
}

#[test]
fn an_invitation_missed_entirely_while_away_is_reported_once() {
    let mut t = Tracker::new("bob");
    let info = call("c2", CallState::Ended, CallUserState::Timeout, 9_000);
    let events = t.resync(std::slice::from_ref(&info), 4_000, 10_000);
    assert!(matches!(&events[..], [Event::MissedWhileAway(c)] if c.call_id == "c2"));
    assert!(t.resync(&[info], 4_000, 11_000).is_empty());
    // Settled long before the drop: old news, not missed.
    let old = call("c3", CallState::Ended, CallUserState::Timeout, 1_000);
    assert!(t.resync(&[old], 40_000, 41_000).is_empty());
}

#[test]
fn a_normal_call_is_done_once_nobody_is_pending() {
    let mut t = Tracker::new("alice");
    t.note_call(
        "c1",
        "alice",
        CallMode::Normal,
        1_000,
        &[
            member("alice", CallUserState::Accepted, 1_000),
            member("bob", CallUserState::Received, 1_000),
        ],
        10,
    );
    assert!(t.is_open("c1"));
    let change = ServerMessage::CallUserStateChanged(CallUserStateChanged {
        call_id: "c1".into(),
        call_user_list: vec![member("bob", CallUserState::Rejected, 50)],
    });
    assert!(t.on_server(change, 60).is_some());
    assert!(!t.is_open("c1"));
}

#[test]
fn history_reaches_back_to_the_oldest_open_call() {
    let mut t = Tracker::new("bob");
    assert_eq!(t.history_cutoff(1_000_000), 1_000_000 - 605_000);
    t.on_server(invitation("c1", CallUserState::Received), 10);
    assert_eq!(t.history_cutoff(1_000_000), 1_000);
}
