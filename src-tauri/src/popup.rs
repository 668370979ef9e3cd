//! The incoming-call popup: its own small always-on-top window, so a call is seen even
//! when the main window is hidden in the tray or minimized. It shows the same UI bundle
//! (`#incoming`), which renders the ringing call from the snapshot.

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

pub const LABEL: &str = "incoming";

pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let builder =
        WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html#incoming".into()));
    let built = crate::webview_profile::apply(builder)
        .title("Incoming call — Beckon")
        .inner_size(380.0, 220.0)
        .resizable(false)
        .always_on_top(true)
        .skip_taskbar(true)
        .decorations(false)
        .center()
        .focused(true)
        .build();
    if let Err(e) = built {
        tracing::warn!(error = %e, "cannot open the incoming-call window");
    }
}

pub fn close<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.close();
    }
}
