//! `beckon history`: recent calls as a table, read from the member states the server
//! keeps (it stores no "result" of its own).

use beckon_client::manager::{summarize, CallResult, HistoryEntry};
use beckon_client::{CallType, Direction};
use beckon_protocol::CallInfo;

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
    let e = summarize(call, me);
    let with = match e.direction {
        Direction::Outgoing => e.with_label.clone(),
        Direction::Incoming => match e.with_label.split_once(" +") {
            Some((name, more)) => format!("{} +{more}", output::person(name, &call.caller)),
            None => output::person(&e.with_label, &call.caller),
        },
    };
    [
        local_time(e.created_at),
        match e.direction {
            Direction::Outgoing => "→ out",
            Direction::Incoming => "← in",
        }
        .into(),
        with,
        match e.call_type {
            CallType::Video => "video",
            CallType::Voice => "voice",
        }
        .into(),
        result(&e).into(),
        e.talk_ms.map(output::duration).unwrap_or_default(),
    ]
}

/// In the words of the call screen. Missed incoming calls are in capitals, because those
/// are what a person scans a history for.
fn result(e: &HistoryEntry) -> &'static str {
    match e.result {
        CallResult::Ringing => "ringing",
        CallResult::InCall => "in call",
        CallResult::Answered => "answered",
        CallResult::Declined => "declined",
        CallResult::Busy => "busy",
        CallResult::Cancelled => "cancelled",
        CallResult::NoAnswer => "no answer",
        CallResult::Missed if e.busy_reject => "MISSED (busy)",
        CallResult::Missed => "MISSED",
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
    use super::*;

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
