//! From the core to the desktop: every event goes to the windows as a Tauri event, and
//! the few things that live outside the windows follow the snapshot: the incoming-call
//! popup, desktop notifications and the tray's status line.

use beckon_client::manager::Notice;
use beckon_client::{Connection, Outcome, Phase, Snapshot, Update};
use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::state::{AppState, HostEvent};
use crate::{notify, popup, tray};

pub async fn run<R: Runtime>(app: AppHandle<R>, mut events: broadcast::Receiver<HostEvent>) {
    let mut ringing = Ring::default();
    let mut phase = Phase::Free;
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                // The next update's snapshot is whole again; only notices were lost.
                tracing::warn!(missed, "the desktop fell behind the call manager's events");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if let Err(e) = app.emit(event.name(), event.payload()) {
            tracing::warn!(error = %e, "cannot send an event to the windows");
        }
        if let HostEvent::Update(update) = &event {
            follow_ringing(&app, update, &mut ringing);
            if brings_main_forward(phase, update.snapshot.phase) {
                crate::show_main(&app);
            }
            phase = update.snapshot.phase;
            notify_missed(update);
            announce(&app, &update.snapshot);
            tray::follow_call(&app, &update.snapshot);
        }
        if let HostEvent::Muted(muted) = event {
            tray::set_muted(&app, muted);
        }
    }
}

/// A call answered in the popup goes on in the main window, which may be hidden in the
/// tray or behind other windows: without it the user could neither see the call nor hang up.
fn brings_main_forward(before: Phase, now: Phase) -> bool {
    before == Phase::Incoming && now == Phase::InCall
}

/// The tray's line before the first update of a new sign-in.
pub async fn announce_current<R: Runtime>(app: &AppHandle<R>) {
    if let Some(s) = app.state::<Arc<AppState>>().view().await.snapshot {
        announce(app, &s);
    }
}

/// The tray says who is signed in and whether calls can reach them.
pub fn announce<R: Runtime>(app: &AppHandle<R>, s: &Snapshot) {
    let connection = match &s.connection {
        Connection::Connected => "online",
        Connection::Connecting => "connecting…",
        Connection::Reconnecting { .. } => "reconnecting…",
        Connection::Disconnected { .. } => "offline",
    };
    let phase = match s.phase {
        Phase::Free => "",
        Phase::Outgoing => " · calling",
        Phase::Incoming => " · ringing",
        Phase::InCall => " · in a call",
    };
    tray::set_status(
        app,
        &format!("{} ({}): {connection}{phase}", s.user_name, s.user_id),
    );
}

/// The call ringing now, and its notification if one was shown.
#[derive(Default)]
struct Ring {
    call_id: Option<String>,
    notification: Option<notify::Ringing>,
}

/// Opens the popup when a call starts ringing and closes it when it stops, whatever the
/// reason (answered, declined, cancelled, timed out, answered on another device); the
/// notification follows the popup.
fn follow_ringing<R: Runtime>(app: &AppHandle<R>, update: &Update, ringing: &mut Ring) {
    let now = match (&update.snapshot.phase, &update.snapshot.call) {
        (Phase::Incoming, Some(call)) => call.call_id.clone(),
        _ => None,
    };
    if now == ringing.call_id {
        return;
    }
    if let Some(n) = ringing.notification.take() {
        n.withdraw();
    }
    match (&now, &update.snapshot.call) {
        (Some(call_id), Some(call)) => {
            popup::show(app);
            // Shown whichever window has the focus: it is where the desktop keeps calls
            // (and, on Linux, answers them), and it goes away when the ringing stops.
            let kind = match call.call_type {
                beckon_client::CallType::Video => "video",
                beckon_client::CallType::Voice => "voice",
            };
            let (app, call_id) = (app.clone(), call_id.clone());
            ringing.notification = Some(notify::Ringing::show(
                format!("Incoming {kind} call"),
                format!("{} ({}) is calling", call.caller_name, call.caller_id),
                move |action| on_ring_action(app, call_id, action),
            ));
        }
        _ => popup::hide(app),
    }
    ringing.call_id = now;
}

/// Accept and Decline act on the call the notification was for, not whatever rings now.
fn on_ring_action<R: Runtime>(app: AppHandle<R>, call_id: String, action: notify::RingAction) {
    if action == notify::RingAction::Open {
        popup::show(&app);
        return;
    }
    tauri::async_runtime::spawn(async move {
        let Ok(manager) = app.state::<Arc<AppState>>().manager().await else {
            return;
        };
        let done = match action {
            notify::RingAction::Accept => manager.accept_call(&call_id).await,
            _ => manager.decline_call(&call_id).await,
        };
        if let Err(e) = done {
            tracing::info!(error = %e, ?action, "the notification's action came too late");
        }
    });
}

fn notify_missed(update: &Update) {
    match &update.notice {
        Notice::Finished {
            outcome: Outcome::Missed,
            call,
        } => notify::send(
            "Missed call".into(),
            format!("{} ({}) called you", call.caller_name, call.caller_id),
        ),
        // Hung up before you answered: a missed call too, as on any phone.
        Notice::Finished {
            outcome: Outcome::CancelledByCaller,
            call,
        } => notify::send(
            "Missed call".into(),
            format!(
                "{} ({}) called and hung up",
                call.caller_name, call.caller_id
            ),
        ),
        Notice::MissedWhileAway {
            caller_id,
            caller_name,
            answered: false,
            ..
        } => notify::send(
            "Missed call".into(),
            format!("{caller_name} ({caller_id}) called while you were offline"),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_answered_incoming_call_brings_the_main_window_forward() {
        assert!(brings_main_forward(Phase::Incoming, Phase::InCall));
        for (before, now) in [
            (Phase::Outgoing, Phase::InCall),
            (Phase::InCall, Phase::InCall),
            (Phase::Incoming, Phase::Free),
            (Phase::Free, Phase::Incoming),
        ] {
            assert!(!brings_main_forward(before, now), "{before:?} -> {now:?}");
        }
    }
}
