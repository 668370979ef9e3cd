//! What the user reads: one timestamped line per change on stdout, so a person can follow
//! a call and a script can grep it; errors on stderr. Also the exit statuses, which are
//! how a script learns how a call went.

use std::io::{IsTerminal, Write};

use beckon_client::manager::{CallView, Connection, Direction, MediaProblem, Notice, Snapshot};
use beckon_client::{CallType, Outcome, Phase, Update};
use beckon_protocol::{CallUserState, StateReason};

/// The process exit status; the numbers are part of the command-line interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `call`: the call was answered (and has ended).
    Ok = 0,
    Error = 1,
    Declined = 2,
    Busy = 3,
    NoAnswer = 4,
    Cancelled = 5,
    ConnectionLost = 6,
}

impl Exit {
    /// How a finished call ends the program. `Answered` whenever there was a conversation,
    /// however it ended, except a lost connection, which a script may want to retry.
    pub fn of(outcome: &Outcome, call: &CallView) -> Exit {
        match outcome {
            Outcome::ConnectionLost => Exit::ConnectionLost,
            _ if call.started_at.is_some() => Exit::Ok,
            Outcome::Declined | Outcome::Rejected | Outcome::DeclinedElsewhere => Exit::Declined,
            Outcome::Busy => Exit::Busy,
            Outcome::NoAnswer | Outcome::Unreachable | Outcome::Missed => Exit::NoAnswer,
            Outcome::Cancelled | Outcome::CancelledByCaller => Exit::Cancelled,
            Outcome::AnsweredElsewhere
            | Outcome::EndedByPeer { .. }
            | Outcome::HungUp
            | Outcome::Left => Exit::Ok,
            Outcome::Failed { .. } | Outcome::MediaFailed { .. } => Exit::Error,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// Writes the progress lines. Remembers what it last showed, so a snapshot that changed
/// nothing visible prints nothing, and whether a prompt is waiting on the current line.
pub struct Printer {
    shown_peers: Vec<(String, CallUserState)>,
    shown_call: Option<String>,
    connection: Connection,
    prompt_open: bool,
    /// Appended to the line that says the call was answered: what ends it.
    pub in_call_hint: String,
}

impl Printer {
    pub fn new() -> Printer {
        Printer {
            shown_peers: Vec::new(),
            shown_call: None,
            // The program only starts printing once connected.
            connection: Connection::Connected,
            prompt_open: false,
            in_call_hint: "Press Ctrl-C to hang up.".into(),
        }
    }

    /// A progress line. Write errors (a closed pipe) are ignored: the call goes on and
    /// the exit status still tells how it went.
    pub fn line(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if std::mem::take(&mut self.prompt_open) {
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "{} {text}", clock());
        let _ = out.flush();
    }

    /// A question left open on the current line; the next line starts below it.
    pub fn prompt(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.prompt_open {
            let _ = writeln!(out);
        }
        let _ = write!(out, "{} {text} ", clock());
        let _ = out.flush();
        self.prompt_open = true;
    }

    /// A terminal has echoed the answer and the Enter; piped input is echoed here, so the
    /// output reads the same either way.
    pub fn prompt_answered(&mut self, answer: &str) {
        if std::mem::take(&mut self.prompt_open) && !std::io::stdin().is_terminal() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{answer}");
            let _ = out.flush();
        }
    }

    /// A terminal shows Ctrl-C as `^C` with no line break; the next line starts below it.
    pub fn interrupted(&mut self) {
        if std::io::stdout().is_terminal() {
            self.prompt_open = true;
        }
    }

    pub fn error(&mut self, text: &str) {
        if std::mem::take(&mut self.prompt_open) {
            let _ = writeln!(std::io::stdout());
        }
        let _ = writeln!(std::io::stderr(), "beckon: {text}");
    }

    /// Prints what an update changed that the commands do not print themselves: members'
    /// states, the connection, and the notices that need no decision.
    pub fn update(&mut self, update: &Update) {
        self.connection_changed(&update.snapshot.connection);
        match &update.notice {
            Notice::Changed => self.members_changed(&update.snapshot),
            Notice::Accepted { by } => {
                let call = update.snapshot.call.as_ref();
                let text = if *by == update.snapshot.user_id {
                    let with = call.map(caller).unwrap_or_default();
                    format!("Accepted — in call with {with}. {}", self.in_call_hint)
                } else {
                    let who = call
                        .and_then(|c| c.peers.iter().find(|p| p.user_id == *by))
                        .map_or(by.clone(), |p| p.name.clone());
                    format!("{who} accepted — in call. {}", self.in_call_hint)
                };
                self.line(&text);
                self.remember(&update.snapshot);
            }
            Notice::Finished { outcome, call } => {
                self.line(&finished(outcome, call));
                self.forget();
            }
            Notice::RejectedBusy {
                caller_id,
                caller_name,
                ..
            } => {
                let who = person(caller_name, caller_id);
                self.line(&format!("Rejected a call from {who}: busy."));
            }
            Notice::MissedWhileAway {
                caller_id,
                caller_name,
                call_type,
                answered,
                ..
            } => {
                let who = person(caller_name, caller_id);
                let kind = kind(*call_type);
                if *answered {
                    self.line(&format!(
                        "A {kind} call from {who} was answered on another device."
                    ));
                } else {
                    self.line(&format!("Missed {kind} call from {who} (while offline)."));
                }
            }
            Notice::Error { message } => self.error(message),
            // The terminal carries no audio: the other side's media offers have no taker.
            Notice::Signal { .. } => {}
        }
    }

    fn connection_changed(&mut self, now: &Connection) {
        let text = match (&self.connection, now) {
            (Connection::Reconnecting { .. }, Connection::Connected) => {
                Some("Connected again.".into())
            }
            (
                Connection::Connected | Connection::Connecting,
                Connection::Reconnecting { reason, .. },
            ) => Some(format!("Connection lost ({reason}); reconnecting…")),
            (_, Connection::Disconnected { reason }) if self.connection != *now => {
                Some(format!("Disconnected: {reason}."))
            }
            _ => None,
        };
        self.connection = now.clone();
        if let Some(text) = text {
            self.line(&text);
        }
    }

    /// One line per member whose state changed, once the server has answered (before
    /// that, every member is shown as just invited, which would read as "offline").
    fn members_changed(&mut self, snapshot: &Snapshot) {
        let Some(call) = &snapshot.call else { return };
        let Some(call_id) = &call.call_id else { return };
        if self.shown_call.as_ref() != Some(call_id) {
            self.forget();
            self.shown_call = Some(call_id.clone());
        }
        for p in &call.peers {
            let before = self
                .shown_peers
                .iter()
                .find(|(id, _)| *id == p.user_id)
                .map(|(_, s)| *s);
            if before == Some(p.state) {
                continue;
            }
            let text = match p.state {
                CallUserState::Inviting if call.direction == Direction::Outgoing => Some(format!(
                    "{}: offline — will ring when they come online",
                    p.name
                )),
                CallUserState::Received if call.direction == Direction::Outgoing => {
                    Some(format!("{}: ringing", p.name))
                }
                CallUserState::Accepted if before.is_some() && snapshot.phase == Phase::InCall => {
                    Some(format!("{} joined.", p.name))
                }
                CallUserState::Rejected if p.reason == Some(StateReason::Busy) => {
                    Some(format!("{} is busy.", p.name))
                }
                CallUserState::Rejected => Some(format!("{} declined.", p.name)),
                CallUserState::Timeout => Some(format!("No answer from {}.", p.name)),
                CallUserState::Quit => Some(format!("{} left.", p.name)),
                _ => None,
            };
            if let Some(text) = text {
                self.line(&text);
            }
        }
        self.remember(snapshot);
    }

    fn remember(&mut self, snapshot: &Snapshot) {
        if let Some(call) = &snapshot.call {
            self.shown_call = call.call_id.clone();
            self.shown_peers = call
                .peers
                .iter()
                .map(|p| (p.user_id.clone(), p.state))
                .collect();
        }
    }

    fn forget(&mut self) {
        self.shown_call = None;
        self.shown_peers.clear();
    }
}

/// The line that closes a call, from this user's side.
pub fn finished(outcome: &Outcome, call: &CallView) -> String {
    let peers = peer_names(call);
    let caller = caller(call);
    let talked = call
        .started_at
        .map(|s| duration(unix_ms().saturating_sub(s)));
    match (outcome, talked) {
        (Outcome::EndedByPeer { by: Some(by) }, talked) if call.group => {
            let after = talked.map(|d| format!(" after {d}")).unwrap_or_default();
            format!(
                "{} ended the call for everyone{after}.",
                member_name(call, by)
            )
        }
        (Outcome::EndedByPeer { by: None }, Some(d)) if call.group => {
            format!("Call ended after {d}: everyone else left.")
        }
        (Outcome::EndedByPeer { .. }, Some(d)) => format!("Call ended by {peers} after {d}."),
        (Outcome::EndedByPeer { .. }, None) => format!("Call ended by {peers}."),
        (Outcome::HungUp, Some(d)) => format!("You hung up after {d}."),
        (Outcome::HungUp, None) => "You hung up.".into(),
        (Outcome::Left, Some(d)) => format!("You left the call after {d}."),
        (Outcome::Left, None) => "You left the call.".into(),
        (Outcome::ConnectionLost, _) => "Connection lost for too long; the call is over.".into(),
        (Outcome::Declined, _) => format!("{peers} declined."),
        (Outcome::Busy, _) => format!("{peers} is busy."),
        (Outcome::NoAnswer, _) => format!("No answer from {peers}."),
        (Outcome::Unreachable, _) => format!("{peers} could not be reached (offline)."),
        (Outcome::Cancelled, _) => "Call cancelled.".into(),
        (Outcome::CancelledByCaller, _) => format!("{caller} cancelled."),
        (Outcome::Missed, _) => format!("Missed call from {caller}."),
        (Outcome::AnsweredElsewhere, _) => {
            format!("Call from {caller} answered on another device.")
        }
        (Outcome::DeclinedElsewhere, _) => {
            format!("Call from {caller} declined on another device.")
        }
        (Outcome::Rejected, _) => format!("Declined the call from {caller}."),
        (Outcome::Failed { message }, _) => format!("Call failed: {message}"),
        (Outcome::MediaFailed { problem }, _) => match problem {
            MediaProblem::CouldNotConnect => {
                "The call's audio could not connect; it was ended.".into()
            }
            MediaProblem::ConnectionLost => "The call's audio was lost; it was ended.".into(),
        },
    }
}

/// "Incoming video call from Alice (alice)"
pub fn incoming(call: &CallView) -> String {
    let mut text = format!(
        "Incoming {} call from {}",
        kind(call.call_type),
        caller(call)
    );
    let others: Vec<&str> = call
        .peers
        .iter()
        .filter(|p| p.user_id != call.caller_id)
        .map(|p| p.name.as_str())
        .collect();
    if !others.is_empty() {
        text.push_str(&format!(" (with {})", others.join(", ")));
    }
    text
}

pub fn kind(t: CallType) -> &'static str {
    match t {
        CallType::Voice => "voice",
        CallType::Video => "video",
    }
}

fn caller(call: &CallView) -> String {
    person(&call.caller_name, &call.caller_id)
}

/// "Alice (alice)", or just "alice" when the name adds nothing.
pub fn person(name: &str, id: &str) -> String {
    if name.is_empty() || name == id {
        id.to_owned()
    } else {
        format!("{name} ({id})")
    }
}

/// A member's name as the call knows it, else the ID.
fn member_name<'a>(call: &'a CallView, user_id: &'a str) -> &'a str {
    call.peers
        .iter()
        .find(|p| p.user_id == user_id)
        .map_or(user_id, |p| p.name.as_str())
}

fn peer_names(call: &CallView) -> String {
    let names: Vec<&str> = call.peers.iter().map(|p| p.name.as_str()).collect();
    if names.is_empty() {
        "everyone".into()
    } else {
        names.join(", ")
    }
}

/// `0:42`, `12:05`, `1:02:03`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

fn clock() -> String {
    jiff::Zoned::now().strftime("%H:%M:%S").to_string()
}

pub use beckon_protocol::now_unix_ms as unix_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(42_999), "0:42");
        assert_eq!(duration(725_000), "12:05");
        assert_eq!(duration(3_723_000), "1:02:03");
    }

    #[test]
    fn a_name_is_shown_with_its_id_only_when_it_differs() {
        assert_eq!(person("alice", "alice"), "alice");
        assert_eq!(person("", "alice"), "alice");
        assert_eq!(person("Alice", "alice"), "Alice (alice)");
    }
}
