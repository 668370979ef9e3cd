//! Desktop notifications. They are a courtesy: a desktop without a notification service
//! (or a D-Bus session) must never keep a call from ringing, so failures are only logged,
//! and the blocking D-Bus call runs off the async threads.

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
