//! The tray icon: Beckon keeps running there to receive calls when its window is closed.
//! The menu shows who is signed in and the connection, with Open and Quit; during a call
//! also Mute and Hang up, so a call in a hidden or minimized window can still be handled.

use std::sync::{Arc, Mutex};

use beckon_client::{Phase, Snapshot};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::host::{self, HostCommand};
use crate::state::{AppState, CallControl, HostEvent};

const MUTE: &str = "mute";
const HANG_UP: &str = "hang-up";

/// The menu and the lines that change; kept in the app's state.
pub struct Tray<R: Runtime> {
    menu: Menu<R>,
    status: MenuItem<R>,
    mute: MenuItem<R>,
    hang_up: MenuItem<R>,
    shown: Mutex<Shown>,
}

/// What the call items show now.
#[derive(Debug, Default, PartialEq)]
struct Shown {
    in_call: bool,
    group: bool,
    muted: bool,
}

impl Shown {
    /// Follows a snapshot: `Some(true)` when the call items must appear, `Some(false)` when
    /// they must go. A call starts unmuted, as the media page does.
    fn follow(&mut self, s: &Snapshot) -> Option<bool> {
        let in_call = s.phase == Phase::InCall;
        self.group = s.call.as_ref().is_some_and(|c| c.group);
        if in_call == self.in_call {
            return None;
        }
        self.in_call = in_call;
        if in_call {
            self.muted = false;
        }
        Some(in_call)
    }
}

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Not signed in", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Beckon", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let mute = MenuItem::with_id(app, MUTE, mute_label(false), true, None::<&str>)?;
    let hang_up = MenuItem::with_id(app, HANG_UP, "Hang up", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &separator, &open, &quit])?;
    let mut tray = TrayIconBuilder::with_id("beckon")
        .tooltip("Beckon")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => crate::show_main(app),
            "quit" => app.exit(0),
            MUTE => {
                let state = app.state::<Arc<AppState>>();
                state.tell(HostEvent::Control(CallControl::ToggleMute));
            }
            HANG_UP => hang_up_from_tray(app),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(Tray {
        menu,
        status,
        mute,
        hang_up,
        shown: Mutex::new(Shown::default()),
    });
    Ok(())
}

fn mute_label(muted: bool) -> &'static str {
    if muted {
        "Unmute microphone"
    } else {
        "Mute microphone"
    }
}

/// A group call is left (the others carry on); a 1:1 call is hung up.
fn hang_up_from_tray<R: Runtime>(app: &AppHandle<R>) {
    let group = app
        .try_state::<Tray<R>>()
        .and_then(|t| t.shown.lock().ok().map(|s| s.group))
        .unwrap_or(false);
    let state = app.state::<Arc<AppState>>().inner().clone();
    tauri::async_runtime::spawn(async move {
        let command = if group {
            HostCommand::Leave
        } else {
            HostCommand::HangUp
        };
        if let Err(e) = host::execute(&state, command).await {
            tracing::warn!(error = %e, "hang-up from the tray failed");
        }
    });
}

pub fn set_status<R: Runtime>(app: &AppHandle<R>, text: &str) {
    if let Some(tray) = app.try_state::<Tray<R>>() {
        let _ = tray.status.set_text(text);
    }
    if let Some(tray) = app.tray_by_id("beckon") {
        let _ = tray.set_tooltip(Some(format!("Beckon — {text}")));
    }
}

/// Mute and Hang up appear under the status line while a call is on, and go after it.
pub fn follow_call<R: Runtime>(app: &AppHandle<R>, s: &Snapshot) {
    let Some(tray) = app.try_state::<Tray<R>>() else {
        return;
    };
    let Ok(mut shown) = tray.shown.lock() else {
        return;
    };
    let Some(in_call) = shown.follow(s) else {
        return;
    };
    let result = if in_call {
        let _ = tray.mute.set_text(mute_label(false));
        tray.menu.insert_items(&[&tray.mute, &tray.hang_up], 1)
    } else {
        tray.menu
            .remove(&tray.mute)
            .and_then(|()| tray.menu.remove(&tray.hang_up))
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot change the tray menu");
    }
}

/// The media page said whether its microphone is muted: the item offers the other way.
pub fn set_muted<R: Runtime>(app: &AppHandle<R>, muted: bool) {
    if let Some(tray) = app.try_state::<Tray<R>>() {
        if let Ok(mut shown) = tray.shown.lock() {
            shown.muted = muted;
        }
        let _ = tray.mute.set_text(mute_label(muted));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_client::{CallType, CallView, Connection, Direction};

    fn snapshot(phase: Phase, group: bool) -> Snapshot {
        let call = (phase != Phase::Free).then(|| CallView {
            call_id: Some("c1".into()),
            direction: Direction::Outgoing,
            call_type: CallType::Voice,
            caller_id: "alice".into(),
            caller_name: "Alice".into(),
            peers: vec![],
            group,
            created_at: 0,
            started_at: None,
            ring_until: None,
            working: false,
        });
        Snapshot {
            user_id: "alice".into(),
            user_name: "Alice".into(),
            phase,
            call,
            connection: Connection::Connected,
            do_not_disturb: false,
        }
    }

    #[test]
    fn the_call_items_come_with_a_call_and_go_with_it_once() {
        let mut shown = Shown::default();
        assert_eq!(shown.follow(&snapshot(Phase::Outgoing, false)), None);
        assert_eq!(shown.follow(&snapshot(Phase::InCall, true)), Some(true));
        assert!(shown.group);
        shown.muted = true;
        assert_eq!(shown.follow(&snapshot(Phase::InCall, true)), None);
        assert!(shown.muted, "an update mid-call keeps the mute state");
        assert_eq!(shown.follow(&snapshot(Phase::Free, false)), Some(false));
        assert_eq!(shown.follow(&snapshot(Phase::InCall, false)), Some(true));
        assert!(!shown.muted, "a new call starts unmuted");
        assert!(!shown.group);
    }
}
