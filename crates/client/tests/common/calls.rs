//! What the call-manager tests (`tests/manager_*.rs`) share: calls set up between
//! managers on the real server, and waiting for what the managers show.

use std::time::Duration;

use beckon_client::manager::{CallView, Notice, Outcome, Phase, Snapshot};
use beckon_client::{CallManager, CallType, Updates};
use beckon_protocol::CallState;

use super::{marker, send_marker, wait_phase, wait_update, WAIT};

pub fn users(list: &[&str]) -> Vec<String> {
    list.iter().map(|u| u.to_string()).collect()
}

/// Polls the manager's snapshot (without consuming updates) until `f` holds.
pub async fn until(m: &CallManager, what: &str, f: impl Fn(&Snapshot) -> bool) -> Snapshot {
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
pub async fn ended_on_server(m: &CallManager, id: &str) -> beckon_protocol::CallInfo {
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
pub async fn call_id(m: &CallManager) -> String {
    let s = until(m, "a call ID", |s| {
        s.call.as_ref().is_some_and(|c| c.call_id.is_some())
    })
    .await;
    s.call.unwrap().call_id.unwrap()
}

/// The next call to finish: how it ended and how it looked last.
pub async fn finished(updates: &mut Updates) -> (Outcome, CallView, Snapshot) {
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
pub async fn accepted(updates: &mut Updates) -> (String, Snapshot) {
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
/// marker invitation from a throwaway user (see [`marker`]): the manager handles
/// events in order, so once it has handled the marker it has handled everything before. A
/// busy manager rejects the marker as busy and keeps its phase; a free one rings, and is
/// let go again (the marker call is cancelled). Right after a reconnect the catch-up may
/// hand out the marker before the events it reports, so a second marker closes that gap.
pub async fn stays(url: &str, m: &CallManager, updates: &mut Updates, phase: Phase) {
    // Twice: right after a reconnect, the catch-up may report events after the first one.
    for _ in 0..2 {
        stays_until_a_marker(url, m, updates, phase).await;
    }
}

/// `caller` calls `callees`; waits until the caller knows the call ID and every callee
/// manager rings. Returns the call ID.
pub async fn ring(
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
pub async fn talk(
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

async fn stays_until_a_marker(url: &str, m: &CallManager, updates: &mut Updates, phase: Phase) {
    let marker = marker(url).await;
    let id = send_marker(&marker, &m.snapshot().user_id).await;
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
