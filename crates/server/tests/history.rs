//! queryCallInvitationList: newest first, paged by nextFlag without gaps or repeats, the
//! caller's and the invitees' calls alike, and every member's state, reason and data.
mod common;

use beckon_client::Requests;
use std::collections::HashSet;

use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;

/// Walks the whole history of `user` with pages of `count`; returns the pages.
async fn pages(user: &User, count: u32) -> Vec<CallList> {
    let mut out = Vec::new();
    let mut flag = 0;
    loop {
        let page = user.client.query_call_list(count, flag).await.unwrap();
        assert!(page.call_list.len() <= count as usize);
        flag = page.next_flag;
        out.push(page);
        if flag == 0 {
            return out;
        }
        assert!(out.len() <= 200, "paging does not end");
    }
}

fn ids(list: &[CallInfo]) -> Vec<String> {
    list.iter().map(|c| c.call_id.clone()).collect()
}

fn member<'a>(call: &'a CallInfo, user: &str) -> &'a CallUserInfo {
    call.call_user_list
        .iter()
        .find(|u| u.user_id == user)
        .unwrap_or_else(|| panic!("{user} not in {call:?}"))
}

#[tokio::test]
async fn pages_walk_every_call_once_newest_first() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;

    // 25 calls: alice calls someone offline and cancels, or bob calls alice and she
    // rejects, alternately. Every call ends, so the next one can start.
    let mut created = Vec::new();
    let mut alice_called = Vec::new();
    for i in 0..25 {
        if i % 2 == 0 {
            let sent = alice
                .invite(&[&format!("ghost{i}")], CallMode::Normal, 60)
                .await;
            alice
                .client
                .call_cancel(cancel_all(&sent.call_id))
                .await
                .unwrap();
            alice_called.push(sent.call_id.clone());
            created.push(sent.call_id);
        } else {
            let sent = bob.invite(&["alice"], CallMode::Normal, 60).await;
            assert_eq!(alice.received().await.call_id, sent.call_id);
            alice
                .client
                .call_reject(&sent.call_id, "", RejectReason::Busy)
                .await
                .unwrap();
            bob.state_of("alice").await;
            created.push(sent.call_id);
        }
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let walk = pages(&alice, 10).await;
    let sizes: Vec<usize> = walk.iter().map(|p| p.call_list.len()).collect();
    assert_eq!(sizes, vec![10, 10, 5]);
    assert!(walk[0].next_flag != 0 && walk[1].next_flag != 0);
    assert_ne!(walk[0].next_flag, walk[1].next_flag);
    assert_eq!(walk[2].next_flag, 0);
    let all: Vec<CallInfo> = walk.into_iter().flat_map(|p| p.call_list).collect();
    assert_eq!(ids(&all), newest_first, "newest first, no gap, no repeat");
    let unique: HashSet<_> = ids(&all).into_iter().collect();
    assert_eq!(unique.len(), 25);
    for pair in all.windows(2) {
        assert!(pair[0].create_time >= pair[1].create_time);
    }
    for c in &all {
        assert_eq!(c.state, CallState::Ended);
        if alice_called.contains(&c.call_id) {
            assert_eq!(c.caller, "alice");
            assert_eq!(member(c, "alice").state, Accepted);
        } else {
            assert_eq!(c.caller, "bob");
            assert_eq!(member(c, "alice").state, Rejected);
            assert_eq!(member(c, "alice").reason, Some(StateReason::Busy));
        }
    }

    // Page boundaries at the very end.
    let whole = alice.client.query_call_list(25, 0).await.unwrap();
    assert_eq!(ids(&whole.call_list), newest_first);
    assert_eq!(whole.next_flag, 0, "nothing after the last call");
    let most = alice.client.query_call_list(24, 0).await.unwrap();
    assert_eq!(ids(&most.call_list), newest_first[..24]);
    assert_ne!(most.next_flag, 0);
    let rest = alice
        .client
        .query_call_list(24, most.next_flag)
        .await
        .unwrap();
    assert_eq!(ids(&rest.call_list), newest_first[24..]);
    assert_eq!(rest.next_flag, 0);
    let max = alice.client.query_call_list(100, 0).await.unwrap();
    assert_eq!(ids(&max.call_list), newest_first);
    let mut flag = 0;
    for want in &newest_first[..3] {
        let one = alice.client.query_call_list(1, flag).await.unwrap();
        assert_eq!(ids(&one.call_list), vec![want.clone()]);
        flag = one.next_flag;
    }

    // bob sees only the calls he is a member of: the ones he made.
    let bobs: Vec<String> = pages(&bob, 5)
        .await
        .into_iter()
        .flat_map(|p| ids(&p.call_list))
        .collect();
    let want: Vec<String> = newest_first
        .iter()
        .filter(|c| !alice_called.contains(c))
        .cloned()
        .collect();
    assert_eq!(bobs.len(), 12);
    assert_eq!(bobs, want);

    // An offline invitee has its call in the history when it logs in.
    let ghost = s.user("ghost0").await;
    let list = ghost.client.query_call_list(100, 0).await.unwrap();
    assert_eq!(ids(&list.call_list), vec![created[0].clone()]);
    assert_eq!(
        member(&list.call_list[0], "ghost0").reason,
        Some(StateReason::CancelledByInviter)
    );
}

#[tokio::test]
async fn count_is_checked_and_an_empty_history_is_empty() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    for bad in [0, 101, 1000] {
        let e = error(alice.client.query_call_list(bad, 0).await);
        assert_eq!(e.code, ErrorCode::InvalidRequest, "count {bad}");
        assert!(e.message.contains("count"), "{}", e.message);
    }
    for count in [1, 100] {
        let list = alice.client.query_call_list(count, 0).await.unwrap();
        assert!(list.call_list.is_empty());
        assert_eq!(list.next_flag, 0);
    }
    alice.invite(&["bob"], CallMode::Normal, 60).await;
    // A flag from before the first call finds nothing older.
    let list = alice.client.query_call_list(10, 1).await.unwrap();
    assert!(list.call_list.is_empty(), "{list:?}");
    assert_eq!(list.next_flag, 0);
}

#[tokio::test]
async fn every_member_state_reason_and_data_is_kept() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let mut dave = s.user("dave").await;
    let mut erin = s.user("erin").await;
    // frank is offline.

    let mut inv = invite(
        &["bob", "carol", "dave", "erin", "frank"],
        CallMode::Normal,
        2,
    );
    inv.extended_data = "call-data".into();
    let sent = alice.client.call_invite(inv).await.unwrap();
    for u in [&mut bob, &mut carol, &mut dave, &mut erin] {
        assert_eq!(u.received().await.call_id, sent.call_id);
    }

    // While it rings, the history shows it live with the pending states.
    let live = history_call(&alice, &sent.call_id).await;
    assert_eq!(live.state, CallState::Started);
    assert_eq!(live.end_time, 0);
    assert_eq!(member(&live, "bob").state, Received);
    assert_eq!(member(&live, "frank").state, Inviting);
    assert_eq!(history_call(&carol, &sent.call_id).await, live);

    // Cancel erin (before anyone accepts), carol is busy, bob accepts; dave and frank
    // let it time out.
    let mut c = cancel_all(&sent.call_id);
    c.invitees = vec!["erin".into()];
    c.extended_data = "not you".into();
    let r = alice.client.call_cancel(c).await.unwrap();
    assert!(r.error_invitees.is_empty());
    carol
        .client
        .call_reject(&sent.call_id, "in a meeting", RejectReason::Busy)
        .await
        .unwrap();
    bob.client
        .call_accept(&sent.call_id, "hello")
        .await
        .unwrap();
    let t = dave
        .wait_for("timeout", |e| match e {
            ServerMessage::CallInvitationTimeout(t) => Some(t.call_id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(t, sent.call_id);
    // frank's deadline is the same; wait for the caller to see both.
    let mut timed_out = HashSet::new();
    while timed_out.len() < 2 {
        let change = alice
            .wait_for("timeouts", |e| match e {
                ServerMessage::CallUserStateChanged(c) => Some(c.clone()),
                _ => None,
            })
            .await;
        for u in change.call_user_list {
            if u.state == Timeout {
                timed_out.insert(u.user_id);
            }
        }
    }

    let call = history_call(&alice, &sent.call_id).await;
    assert_eq!(call.call_id, sent.call_id);
    assert_eq!(call.caller, "alice");
    assert_eq!(call.caller_name, "alice name");
    assert_eq!(call.mode, CallMode::Normal);
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(call.create_time, sent.create_time);
    assert_eq!(call.extended_data, "call-data");
    let users: Vec<&str> = call
        .call_user_list
        .iter()
        .map(|u| u.user_id.as_str())
        .collect();
    assert_eq!(users, ["alice", "bob", "carol", "dave", "erin", "frank"]);
    let want = [
        ("alice", Accepted, None, ""),
        ("bob", Accepted, None, "hello"),
        ("carol", Rejected, Some(StateReason::Busy), "in a meeting"),
        ("dave", Timeout, None, ""),
        ("erin", Cancelled, Some(StateReason::CancelledByInviter), ""),
        ("frank", Timeout, None, ""),
    ];
    for (user, state, reason, data) in want {
        let m = member(&call, user);
        assert_eq!(m.state, state, "{user}");
        assert_eq!(m.reason, reason, "{user}");
        assert_eq!(m.extended_data, data, "{user}");
        assert_eq!(m.inviter, "alice", "{user}");
        assert!(m.update_time >= call.create_time, "{user}");
        assert!(m.update_time <= call.end_time, "{user}");
    }
    for user in ["dave", "frank"] {
        assert!(
            member(&call, user).update_time >= call.create_time + 2000,
            "{user} timed out at its deadline"
        );
    }
    assert!(call.end_time >= member(&call, "frank").update_time);

    // Every member, frank included once he logs in, reads the same record.
    let frank = s.user("frank").await;
    for u in [&bob, &carol, &dave, &erin, &frank] {
        assert_eq!(history_call(u, &sent.call_id).await, call, "{}", u.id);
    }

    // A plain decline records its reason too.
    let again = alice.invite(&["bob"], CallMode::Normal, 60).await;
    bob.received().await;
    bob.client
        .call_reject(&again.call_id, "", RejectReason::Declined)
        .await
        .unwrap();
    alice.state_of("bob").await;
    let call = history_call(&bob, &again.call_id).await;
    assert_eq!(member(&call, "bob").state, Rejected);
    assert_eq!(member(&call, "bob").reason, Some(StateReason::Declined));
    let list = alice.client.query_call_list(2, 0).await.unwrap();
    assert_eq!(ids(&list.call_list), vec![again.call_id, sent.call_id]);
}

#[tokio::test]
async fn advanced_mode_and_caller_gone_states_are_kept() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut erin = s.user("erin").await;

    let sent = alice.invite(&["bob"], CallMode::Advanced, 60).await;
    bob.received().await;
    bob.client.call_accept(&sent.call_id, "in").await.unwrap();
    alice.state_of("bob").await;
    let more = CallingInvite {
        call_id: sent.call_id.clone(),
        invitees: vec!["erin".into()],
        timeout: Some(30),
        extended_data: "from bob".into(),
        push_config: None,
    };
    bob.client.calling_invite(more).await.unwrap();
    let inv = erin.received().await;
    assert_eq!(inv.inviter, "bob");
    erin.client
        .call_reject(&sent.call_id, "no", RejectReason::Declined)
        .await
        .unwrap();
    bob.client.call_quit(&sent.call_id, "out").await.unwrap();
    // alice is left alone, still in the call, and ends it.
    alice.wait_state("bob", Quit).await;
    let ended = alice.client.call_end(&sent.call_id, "").await.unwrap();

    let call = history_call(&erin, &sent.call_id).await;
    assert_eq!(call.mode, CallMode::Advanced);
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(call.end_time, ended.end_time);
    let want = [
        ("alice", Accepted, None, "", "alice"),
        ("bob", Quit, None, "out", "alice"),
        ("erin", Rejected, Some(StateReason::Declined), "no", "bob"),
    ];
    assert_eq!(call.call_user_list.len(), want.len());
    for (user, state, reason, data, inviter) in want {
        let m = member(&call, user);
        assert_eq!(
            (
                m.state,
                m.reason,
                m.extended_data.as_str(),
                m.inviter.as_str()
            ),
            (state, reason, data, inviter),
            "{user}"
        );
    }
    assert_eq!(history_call(&alice, &sent.call_id).await, call);

    // The caller's device logs out before anyone answered: the invitee is cancelled as
    // callerGone, and the history says so.
    let carol = s.user("carol").await;
    let mut dave = s.user("dave").await;
    let gone = carol.invite(&["dave"], CallMode::Normal, 60).await;
    dave.received().await;
    carol.client.logout().await.unwrap();
    let c = dave
        .wait_for("cancelled", |e| match e {
            ServerMessage::CallInvitationCancelled(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    assert_eq!(c.reason, StateReason::CallerGone);
    let call = history_call(&dave, &gone.call_id).await;
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(member(&call, "dave").state, Cancelled);
    assert_eq!(member(&call, "dave").reason, Some(StateReason::CallerGone));
    assert_eq!(member(&call, "carol").state, Accepted);
}
