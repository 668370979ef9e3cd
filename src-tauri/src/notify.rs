//! Desktop notifications. They are a courtesy: a desktop without a notification service
//! (or a D-Bus session) must never keep a call from ringing, so failures are only logged,
//! and the blocking D-Bus calls run off the async threads.
//!
//! An incoming call's notification stays up while the call rings, offers Accept and
//! Decline (freedesktop notifications on Linux), and is withdrawn when the ringing stops:
//! a notification for a call that is already over only misleads. Where it could not be
//! withdrawn, the popup alone rings.

use std::sync::{Arc, Mutex};

pub fn send(summary: String, body: String) {
    tauri::async_runtime::spawn_blocking(move || {
        let shown = notify_rust::Notification::new()
            .appname("Beckon")
            .summary(&summary)
            .body(&body)
            .show();
        if let Err(e) = shown {
            tracing::info!(error = %e, %summary, "desktop notification not shown");
        }
    });
}

/// What the user did with a ringing call's notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingAction {
    Accept,
    Decline,
    /// Clicked the notification itself: show the call.
    Open,
}

impl RingAction {
    const ACCEPT: &'static str = "accept";
    const DECLINE: &'static str = "decline";

    /// The action key a freedesktop server reports; "default" is a click on the body.
    fn from_key(key: &str) -> Option<RingAction> {
        match key {
            Self::ACCEPT => Some(RingAction::Accept),
            Self::DECLINE => Some(RingAction::Decline),
            "default" => Some(RingAction::Open),
            _ => None,
        }
    }
}

/// A ringing call's notification. [`Ringing::withdraw`] takes it down, also when it is
/// still being shown on another thread.
#[derive(Clone, Default)]
pub struct Ringing {
    state: Arc<Mutex<Shown>>,
}

#[derive(Default)]
enum Shown {
    #[default]
    Pending,
    #[cfg(all(unix, not(target_os = "macos")))]
    Up(Box<notify_rust::NotificationHandle>),
    Withdrawn,
}

impl Ringing {
    /// Shows the notification; `on_action` runs (on a blocking thread) if the user acts on it.
    pub fn show(
        summary: String,
        body: String,
        on_action: impl FnOnce(RingAction) + Send + 'static,
    ) -> Ringing {
        let ringing = Ringing::default();
        let state = ringing.state.clone();
        tauri::async_runtime::spawn_blocking(move || {
            show_ringing(&summary, &body, &state, on_action)
        });
        ringing
    }

    pub fn withdraw(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let previous = std::mem::replace(&mut *state, Shown::Withdrawn);
        drop(state);
        #[cfg(all(unix, not(target_os = "macos")))]
        if let Shown::Up(handle) = previous {
            tauri::async_runtime::spawn_blocking(move || handle.close());
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = previous;
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
fn show_ringing(
    summary: &str,
    body: &str,
    state: &Mutex<Shown>,
    on_action: impl FnOnce(RingAction) + Send + 'static,
) {
    use notify_rust::{Hint, Timeout, Urgency};
    let shown = notify_rust::Notification::new()
        .appname("Beckon")
        .summary(summary)
        .body(body)
        .action(RingAction::ACCEPT, "Accept")
        .action(RingAction::DECLINE, "Decline")
        .hint(Hint::Category("call.incoming".into()))
        .urgency(Urgency::Critical)
        .timeout(Timeout::Never)
        .show();
    let handle = match shown {
        Ok(handle) => handle,
        Err(e) => {
            tracing::info!(error = %e, %summary, "desktop notification not shown");
            return;
        }
    };
    let id = handle.id();
    {
        let Ok(mut state) = state.lock() else { return };
        if matches!(*state, Shown::Withdrawn) {
            // The ringing stopped while the notification was on its way.
            drop(state);
            handle.close();
            return;
        }
        *state = Shown::Up(Box::new(handle));
    }
    // Returns when the user acts or the notification closes (withdrawn, or dismissed).
    let listened = notify_rust::handle_action(id, |response| {
        if let notify_rust::ActionResponse::Custom(key) = response {
            if let Some(action) = RingAction::from_key(key) {
                on_action(action);
            }
        }
    });
    if let Err(e) = listened {
        tracing::info!(error = %e, "cannot listen for the notification's actions");
    }
}

/// Elsewhere (Windows, macOS) no notification: notify-rust can neither give it buttons nor
/// take it down there, so it would stay in the notification centre long after the call,
/// and the always-on-top popup already rings with Accept and Decline. Missed calls are
/// still notified ([`send`]).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show_ringing(
    _summary: &str,
    _body: &str,
    _state: &Mutex<Shown>,
    _on_action: impl FnOnce(RingAction) + Send + 'static,
) {
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_s_action_keys_map_to_what_the_user_did() {
        assert_eq!(RingAction::from_key("accept"), Some(RingAction::Accept));
        assert_eq!(RingAction::from_key("decline"), Some(RingAction::Decline));
        assert_eq!(RingAction::from_key("default"), Some(RingAction::Open));
        assert_eq!(RingAction::from_key("__closed"), None);
    }

    #[test]
    fn withdrawing_before_it_is_shown_leaves_it_withdrawn() {
        let ringing = Ringing::default();
        ringing.withdraw();
        assert!(matches!(*ringing.state.lock().unwrap(), Shown::Withdrawn));
    }
}
