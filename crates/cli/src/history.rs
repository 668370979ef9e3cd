//! `beckon history`: recent calls as a table, read from the member states the server
//! keeps (it stores no "result" of its own).

use beckon_protocol::{CallInfo, CallState, CallUserInfo, CallUserState, StateReason};

use crate::args::{ConnArgs, HistoryArgs};
use crate::output::{self, Exit, Printer};
use crate::session;

pub async fn run(conn: &ConnArgs, args: HistoryArgs) -> Exit {
    let mut out = Printer::new();
    let (client, events) = match session::connect(conn, "history").await {
        Ok(c) => c,
        Err(e) => {
            out.error(&e);
            return Exit::Error;
        }
    };
    // Nobody listens to events here; dropping them lets the client run unhindered.
    drop(events);
    let list = client.query_call_list(args.count, 0).await;
    client.logout().await;
    let calls = match list {
        Ok(l) => l.call_list,
        Err(e) => {
            out.error(&format!("cannot read the call history: {e}"));
            return Exit::Error;
        }
    };
    if calls.is_empty() {
        println!("No calls yet.");
        return Exit::Ok;
    }
    let me = client.user_id();
    let mut rows = vec![["TIME", "", "WITH", "TYPE", "RESULT", "LENGTH"].map(String::from)];
    rows.extend(calls.iter().map(|c| row(c, me)));
    print!("{}", table(&rows));
    Exit::Ok
}

fn row(call: &CallInfo, me: &str) -> [String; 6] {
    let outgoing = call.caller == me;
    let others: Vec<&CallUserInfo> = call
        .call_user_list
        .iter()
        .filter(|u| u.user_id != me)
        .collect();
    let with = if outgoing {
        others
            .iter()
            .map(|u| u.user_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        let caller = output::person(&call.caller_name, &call.caller);
        match others.len() {
            0 | 1 => caller,
            n => format!("{caller} +{}", n - 1),
        }
    };
    [
        local_time(call.create_time),
        if outgoing { "→ out" } else { "← in" }.into(),
        with,
        call_type(&call.extended_data).into(),
        result(call, me).into(),
        talk_time(call).map(output::duration).unwrap_or_default(),
    ]
}

/// What the call came to for this user, in the words of the call screen. Missed incoming
/// calls are in capitals, because those are what a person scans a history for.
fn result(call: &CallInfo, me: &str) -> &'static str {
    let live = call.state == CallState::Started;
    let others = || call.call_user_list.iter().filter(|u| u.user_id != me);
    let answered =
        |u: &CallUserInfo| matches!(u.state, CallUserState::Accepted | CallUserState::Quit);
    if call.caller == me {
        let rejected = |r: StateReason| {
            others().any(|u| {
                u.state == CallUserState::Rejected && u.reason.unwrap_or(StateReason::Declined) == r
            })
        };
        if others().any(answered) {
            if live {
                "in call"
            } else {
                "answered"
            }
        } else if live {
            "ringing"
        } else if rejected(StateReason::Declined) {
            "declined"
        } else if rejected(StateReason::Busy) {
            "busy"
        } else if others().any(|u| u.state == CallUserState::Cancelled) {
            "cancelled"
        } else {
            "no answer"
        }
    } else {
        let Some(mine) = call.call_user_list.iter().find(|u| u.user_id == me) else {
            return "";
        };
        match mine.state {
            CallUserState::Accepted | CallUserState::Quit if live => "in call",
            CallUserState::Accepted | CallUserState::Quit => "answered",
            CallUserState::Inviting | CallUserState::Received if live => "ringing",
            CallUserState::Rejected if mine.reason == Some(StateReason::Busy) => "MISSED (busy)",
            CallUserState::Rejected => "declined",
            _ => "MISSED",
        }
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

fn call_type(extended_data: &str) -> &'static str {
    let video = serde_json::from_str::<serde_json::Value>(extended_data)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(|t| t == "video_call"))
        .unwrap_or(false);
    if video {
        "video"
    } else {
        "voice"
    }
}

fn local_time(ms: u64) -> String {
    let Ok(t) = jiff::Timestamp::from_millisecond(ms as i64) else {
        return String::new();
    };
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
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

    #[test]
    fn results_read_from_both_sides() {
        let answered = call(
            CallState::Ended,
            member("bob", CallUserState::Accepted, None, 8_000),
        );
        assert_eq!(result(&answered, "alice"), "answered");
        assert_eq!(result(&answered, "bob"), "answered");
        assert_eq!(talk_time(&answered), Some(42_000));

        let busy = call(
            CallState::Ended,
            member(
                "bob",
                CallUserState::Rejected,
                Some(StateReason::Busy),
                2_000,
            ),
        );
        assert_eq!(result(&busy, "alice"), "busy");
        assert_eq!(result(&busy, "bob"), "MISSED (busy)");
        assert_eq!(talk_time(&busy), None);

        let timeout = call(
            CallState::Ended,
            member("bob", CallUserState::Timeout, None, 3_000),
        );
        assert_eq!(result(&timeout, "alice"), "no answer");
        assert_eq!(result(&timeout, "bob"), "MISSED");

        let declined = call(
            CallState::Ended,
            member(
                "bob",
                CallUserState::Rejected,
                Some(StateReason::Declined),
                2_000,
            ),
        );
        assert_eq!(result(&declined, "alice"), "declined");
        assert_eq!(result(&declined, "bob"), "declined");

        let ringing = call(
            CallState::Started,
            member("bob", CallUserState::Received, None, 1_000),
        );
        assert_eq!(result(&ringing, "alice"), "ringing");
        assert_eq!(result(&ringing, "bob"), "ringing");
    }

    #[test]
    fn the_call_type_falls_back_to_voice() {
        assert_eq!(call_type(r#"{"type":"video_call"}"#), "video");
        assert_eq!(call_type(r#"{"type":"voice_call"}"#), "voice");
        assert_eq!(call_type("busy"), "voice");
        assert_eq!(call_type(""), "voice");
    }

    #[test]
    fn the_table_lines_up() {
        let rows = [
            ["a", "→ out", "bob", "", "", ""],
            ["long", "← in", "x", "", "", ""],
        ]
        .map(|r| r.map(String::from));
        assert_eq!(table(&rows), "a     → out  bob\nlong  ← in   x\n");
    }
}
