//! What each call in the server's list came to for this user: the recent-calls list of the
//! app and `beckon history` read it from here. The server keeps member states, not a
//! "result", so the result is read from them.

use beckon_protocol::{CallInfo, CallState, CallUserInfo, CallUserState, StateReason};
use serde::Serialize;

use super::{extras, CallType, Direction};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CallResult {
    /// Still ringing.
    Ringing,
    /// Still going on.
    InCall,
    Answered,
    /// Outgoing: the callee declined. Incoming: this user declined.
    Declined,
    /// Outgoing: the callee was busy.
    Busy,
    /// Outgoing: cancelled by this user.
    Cancelled,
    NoAnswer,
    /// Incoming and not answered: timed out, cancelled by the caller, or rejected
    /// automatically because this user was busy.
    Missed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct HistoryEntry {
    pub call_id: String,
    pub direction: Direction,
    pub call_type: CallType,
    /// Who the call was with: the callees of an outgoing call, the caller of an incoming one.
    pub with_ids: Vec<String>,
    /// A display name for them ("Alice", "bob, carol", "Alice +2").
    pub with_label: String,
    pub result: CallResult,
    /// Incoming and not answered here or on another device.
    pub missed: bool,
    /// Missed because this user was busy (rejected automatically).
    pub busy_reject: bool,
    /// Server Unix milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at: u64,
    /// From the first accept to the end, when the server's states still tell it.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub talk_ms: Option<u64>,
}

pub fn summarize(call: &CallInfo, me: &str) -> HistoryEntry {
    let outgoing = call.caller == me;
    let others: Vec<&CallUserInfo> = call
        .call_user_list
        .iter()
        .filter(|u| u.user_id != me)
        .collect();
    let (call_type, name) = extras::decode(&call.extended_data);
    let caller_name = name.unwrap_or_else(|| call.caller_name.clone());
    let (with_ids, with_label) = if outgoing {
        let ids: Vec<String> = others.iter().map(|u| u.user_id.clone()).collect();
        let names: Vec<String> = others.iter().map(|u| extras::member_name(u)).collect();
        let label = names.join(", ");
        (ids, label)
    } else {
        let label = match others.len() {
            0 | 1 => caller_name,
            n => format!("{caller_name} +{}", n - 1),
        };
        (vec![call.caller.clone()], label)
    };
    let result = result(call, me, &others);
    let mine = call.call_user_list.iter().find(|u| u.user_id == me);
    HistoryEntry {
        call_id: call.call_id.clone(),
        direction: if outgoing {
            Direction::Outgoing
        } else {
            Direction::Incoming
        },
        call_type,
        with_ids,
        with_label,
        result,
        missed: result == CallResult::Missed,
        busy_reject: mine.is_some_and(|u| {
            u.state == CallUserState::Rejected && u.reason == Some(StateReason::Busy)
        }),
        created_at: call.create_time,
        talk_ms: talk_time(call),
    }
}

fn result(call: &CallInfo, me: &str, others: &[&CallUserInfo]) -> CallResult {
    let live = call.state == CallState::Started;
    let answered =
        |u: &&CallUserInfo| matches!(u.state, CallUserState::Accepted | CallUserState::Quit);
    if call.caller == me {
        let rejected = |r: StateReason| {
            others.iter().any(|u| {
                u.state == CallUserState::Rejected && u.reason.unwrap_or(StateReason::Declined) == r
            })
        };
        return match () {
            _ if others.iter().any(answered) && live => CallResult::InCall,
            _ if others.iter().any(answered) => CallResult::Answered,
            _ if live => CallResult::Ringing,
            _ if rejected(StateReason::Declined) => CallResult::Declined,
            _ if rejected(StateReason::Busy) => CallResult::Busy,
            _ if others.iter().any(|u| u.state == CallUserState::Cancelled) => {
                CallResult::Cancelled
            }
            _ => CallResult::NoAnswer,
        };
    }
    let Some(mine) = call.call_user_list.iter().find(|u| u.user_id == me) else {
        return CallResult::Missed;
    };
    match mine.state {
        CallUserState::Accepted | CallUserState::Quit if live => CallResult::InCall,
        CallUserState::Accepted | CallUserState::Quit => CallResult::Answered,
        CallUserState::Inviting | CallUserState::Received if live => CallResult::Ringing,
        CallUserState::Rejected if mine.reason != Some(StateReason::Busy) => CallResult::Declined,
        _ => CallResult::Missed,
    }
}

/// From the first accept to the end. The call's own create time would count the ringing;
/// a member's update time is its accept only while it is still "accepted", so a call
/// whose members all left has no known length.
fn talk_time(call: &CallInfo) -> Option<u64> {
    if call.state != CallState::Ended || call.end_time == 0 {
        return None;
    }
    let accepted = call
        .call_user_list
        .iter()
        .filter(|u| u.user_id != call.caller && u.state == CallUserState::Accepted)
        .map(|u| u.update_time)
        .min()?;
    Some(call.end_time.saturating_sub(accepted))
}

#[cfg(test)]
mod tests {
    use beckon_protocol::CallMode;

    use super::*;

    fn member(
        user: &str,
        state: CallUserState,
        reason: Option<StateReason>,
        at: u64,
    ) -> CallUserInfo {
        CallUserInfo {
            user_id: user.into(),
            state,
            extended_data: String::new(),
            reason,
            inviter: "alice".into(),
            update_time: at,
        }
    }

    fn call(state: CallState, bob: CallUserInfo) -> CallInfo {
        CallInfo {
            call_id: "c1".into(),
            caller: "alice".into(),
            caller_name: "Alice".into(),
            mode: CallMode::Advanced,
            state,
            create_time: 1_000,
            end_time: if state == CallState::Ended { 50_000 } else { 0 },
            extended_data: r#"{"type":"video_call","callerUserName":"Alice"}"#.into(),
            call_user_list: vec![member("alice", CallUserState::Accepted, None, 1_000), bob],
        }
    }

    fn results(c: &CallInfo) -> (CallResult, CallResult) {
        (summarize(c, "alice").result, summarize(c, "bob").result)
    }

    #[test]
    fn results_read_from_both_sides() {
        use CallResult::*;
        let answered = call(
            CallState::Ended,
            member("bob", CallUserState::Accepted, None, 8_000),
        );
        assert_eq!(results(&answered), (Answered, Answered));
        assert_eq!(summarize(&answered, "bob").talk_ms, Some(42_000));

        let busy = call(
            CallState::Ended,
            member(
                "bob",
                CallUserState::Rejected,
                Some(StateReason::Busy),
                2_000,
            ),
        );
        assert_eq!(results(&busy), (Busy, Missed));
        assert!(summarize(&busy, "bob").busy_reject && summarize(&busy, "bob").missed);
        assert_eq!(summarize(&busy, "bob").talk_ms, None);

        let timeout = call(
            CallState::Ended,
            member("bob", CallUserState::Timeout, None, 3_000),
        );
        assert_eq!(results(&timeout), (NoAnswer, Missed));

        let declined = call(
            CallState::Ended,
            member(
                "bob",
                CallUserState::Rejected,
                Some(StateReason::Declined),
                2_000,
            ),
        );
        assert_eq!(results(&declined), (Declined, Declined));

        let ringing = call(
            CallState::Started,
            member("bob", CallUserState::Received, None, 1_000),
        );
        assert_eq!(results(&ringing), (Ringing, Ringing));
    }

    #[test]
    fn callees_are_labelled_by_the_names_they_answered_with() {
        let mut bob = member("bob", CallUserState::Quit, None, 8_000);
        bob.extended_data = r#"{"userName":"Bob Stone"}"#.into();
        let mut c = call(CallState::Ended, bob);
        c.call_user_list
            .push(member("carol", CallUserState::Timeout, None, 9_000));
        let alice = summarize(&c, "alice");
        assert_eq!(alice.with_label, "Bob Stone, carol");
        assert_eq!(alice.with_ids, ["bob", "carol"]);
    }

    #[test]
    fn who_and_what_come_from_both_sides() {
        let c = call(
            CallState::Ended,
            member("bob", CallUserState::Accepted, None, 8_000),
        );
        let bob = summarize(&c, "bob");
        assert_eq!(
            (bob.direction, bob.with_label.as_str(), bob.call_type),
            (Direction::Incoming, "Alice", CallType::Video)
        );
        assert_eq!(bob.with_ids, ["alice"]);
        let alice = summarize(&c, "alice");
        assert_eq!(
            (alice.direction, alice.with_label.as_str()),
            (Direction::Outgoing, "bob")
        );
        let mut foreign = c.clone();
        foreign.extended_data = "busy".into();
        assert_eq!(summarize(&foreign, "bob").call_type, CallType::Voice);
    }
}
