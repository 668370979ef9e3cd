//! The commands a page may send the core. One serde enum is the whole vocabulary: the
//! desktop windows send it through Tauri's IPC, a browser page over the loopback
//! WebSocket, and both end up in [`execute`].

use beckon_client::manager::{summarize, MediaProblem};
use beckon_client::CallType;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{CommandError, CommandErrorKind};
use crate::settings::Settings;
use crate::state::{AppState, HostEvent};

/// Most history entries one page asks for.
const HISTORY_MAX: u32 = 100;

/// `{ "command": "call", "args": { "users": ["bob"], "callType": "voice" } }`: names in
/// snake_case, arguments in camelCase (`ui/src/api.ts`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    tag = "command",
    content = "args",
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum HostCommand {
    AppState,
    SaveSettings {
        settings: Settings,
    },
    SignOut,
    /// While on, invitations are declined as busy without ringing.
    SetDoNotDisturb {
        on: bool,
    },
    Call {
        users: Vec<String>,
        call_type: CallType,
    },
    Cancel,
    Accept {
        call_id: String,
    },
    Decline {
        call_id: String,
    },
    HangUp,
    InviteMore {
        users: Vec<String>,
    },
    Leave,
    EndCall,
    History {
        count: u32,
    },
    /// STUN/TURN servers for the page's peer connections, with fresh TURN credentials.
    IceConfig,
    /// A media negotiation message for another member of the current call.
    Signal {
        call_id: String,
        to_user_id: String,
        payload: Value,
    },
    /// The page could not carry the call's media: end the call, saying why.
    MediaFailed {
        call_id: String,
        problem: MediaProblem,
    },
    /// Desktop only: serve the pages on loopback and open them in the system browser.
    OpenInBrowser,
    /// Desktop only: whether the app starts when the user signs in to the computer
    /// (`null` in browser mode, where there is no such setting).
    StartAtLogin,
    /// Desktop only: start the app (in the tray) when the user signs in to the computer.
    SetStartAtLogin {
        on: bool,
    },
    /// The sending window's title, for the task bar and window switcher. A browser tab
    /// takes the page's own title, so in browser mode this does nothing.
    SetWindowTitle {
        title: String,
    },
    /// Puts the sending window away, as closing it does (the app stays in the tray). A
    /// page cannot close a browser tab it did not open, so in browser mode this does nothing.
    HideWindow,
    /// The page that carries the call's media says whether its microphone is muted, so
    /// the tray's Mute item can say which way it goes.
    SetMuted {
        muted: bool,
    },
}

/// Longest window title kept; a title is a line, not a document.
pub const MAX_TITLE_CHARS: usize = 200;

/// Runs one command; the answer is JSON for the page.
pub async fn execute(state: &AppState, command: HostCommand) -> Result<Value, CommandError> {
    use HostCommand as C;
    let done = |r: Result<(), beckon_client::ActionError>| -> Result<Value, CommandError> {
        r.map(|()| Value::Null).map_err(CommandError::from)
    };
    match command {
        C::AppState => Ok(to_json(&state.view().await)),
        C::SaveSettings { settings } => state.save(settings).await.map(|()| Value::Null),
        C::SignOut => state.sign_out().await.map(|()| Value::Null),
        C::SetDoNotDisturb { on } => state.set_do_not_disturb(on).await.map(|()| Value::Null),
        C::Call { users, call_type } => done(state.manager().await?.call(users, call_type).await),
        C::Cancel => done(state.manager().await?.cancel().await),
        C::Accept { call_id } => done(state.manager().await?.accept_call(&call_id).await),
        C::Decline { call_id } => done(state.manager().await?.decline_call(&call_id).await),
        C::HangUp => done(state.manager().await?.hang_up().await),
        C::InviteMore { users } => done(state.manager().await?.invite_more(users).await),
        C::Leave => done(state.manager().await?.leave().await),
        C::EndCall => done(state.manager().await?.end().await),
        C::History { count } => {
            let manager = state.manager().await?;
            let me = manager.client().user_id().to_owned();
            let calls = manager.history(count.clamp(1, HISTORY_MAX)).await?;
            let entries: Vec<_> = calls.iter().map(|c| summarize(c, &me)).collect();
            Ok(to_json(&entries))
        }
        C::IceConfig => Ok(to_json(&state.manager().await?.ice_config().await?)),
        C::Signal {
            call_id,
            to_user_id,
            payload,
        } => done(
            state
                .manager()
                .await?
                .signal(&call_id, &to_user_id, payload)
                .await,
        ),
        C::MediaFailed { call_id, problem } => {
            done(state.manager().await?.media_failed(&call_id, problem).await)
        }
        C::OpenInBrowser => Err(CommandError::new(
            CommandErrorKind::NotNow,
            "this page is already open in a browser",
        )),
        C::SetWindowTitle { .. } | C::StartAtLogin | C::HideWindow => Ok(Value::Null),
        C::SetMuted { muted } => {
            state.tell(HostEvent::Muted(muted));
            Ok(Value::Null)
        }
        C::SetStartAtLogin { .. } => Err(CommandError::new(
            CommandErrorKind::NotNow,
            "starting at login is set in the desktop app",
        )),
    }
}

/// A title fit for a window: one line, at most [`MAX_TITLE_CHARS`].
pub fn window_title(title: &str) -> String {
    let line = title.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(MAX_TITLE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_read_as_the_ui_sends_them() {
        let parse = |v: Value| serde_json::from_value::<HostCommand>(v);
        assert_eq!(
            parse(json!({"command": "hang_up"})).unwrap(),
            HostCommand::HangUp
        );
        assert_eq!(
            parse(json!({"command": "call", "args": {"users": ["bob"], "callType": "video"}}))
                .unwrap(),
            HostCommand::Call {
                users: vec!["bob".into()],
                call_type: CallType::Video
            }
        );
        assert_eq!(
            parse(json!({"command": "media_failed", "args": {"callId": "c", "problem": "connectionLost"}}))
                .unwrap(),
            HostCommand::MediaFailed {
                call_id: "c".into(),
                problem: MediaProblem::ConnectionLost
            }
        );
        assert_eq!(
            parse(json!({"command": "set_window_title", "args": {"title": "In call with Bob"}}))
                .unwrap(),
            HostCommand::SetWindowTitle {
                title: "In call with Bob".into()
            }
        );
        assert!(parse(json!({"command": "format_disk"})).is_err());
        assert!(parse(json!({"command": "accept", "args": {}})).is_err());
    }

    #[tokio::test]
    async fn the_media_page_muting_reaches_every_listener_as_an_event() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::new(dir.path().to_owned());
        let mut events = state.subscribe();
        let command =
            serde_json::from_value(json!({"command": "set_muted", "args": {"muted": true}}));
        execute(&state, command.unwrap()).await.unwrap();
        let event = events.recv().await.unwrap();
        assert!(matches!(event, HostEvent::Muted(true)), "{event:?}");
        assert_eq!(event.name(), "beckon://muted");
    }

    #[test]
    fn a_window_title_is_one_bounded_line() {
        assert_eq!(
            window_title(" In call with Bob — 0:42 "),
            "In call with Bob — 0:42"
        );
        assert_eq!(window_title("two\nlines"), "two");
        let long = window_title(&"é".repeat(500));
        assert_eq!(long.chars().count(), MAX_TITLE_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}

/// The answer of `ice_config` is the protocol's type, which no exported app or client type
/// refers to; exported here, with the others (`cargo test --features ts export_bindings`).
#[cfg(all(test, feature = "ts"))]
mod bindings {
    #[test]
    fn export_bindings_ice_config() {
        use ts_rs::TS;
        beckon_protocol::IceConfig::export_all(&ts_rs::Config::from_env())
            .expect("IceConfig's TypeScript bindings");
    }
}
