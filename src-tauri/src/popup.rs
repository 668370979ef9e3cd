//! The incoming-call popup: its own small always-on-top window, so a call is seen even
//! when the main window is hidden in the tray or minimized. It shows the same UI bundle
//! (`#incoming`), which renders the ringing call from the snapshot.
//!
//! The window is made at start and only shown and hidden after that: a webview takes
//! hundreds of milliseconds to start, and a call must not wait for it. Hidden, the page
//! still follows every update, so it already shows the call when it is shown.

use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

pub const LABEL: &str = "incoming";

/// Makes the popup ready for the first call. It is mapped once, off screen, until its page
/// has loaded: a window never mapped makes its first showing pay for realizing the window
/// and starting the page's rendering (about a second here), and the first call would wait.
pub fn prepare<R: Runtime>(app: &AppHandle<R>) {
    if app.get_webview_window(LABEL).is_some() {
        return;
    }
    // On Linux the popup lives in the main window's web process: its own made the app 38 MiB
    // (PSS) bigger for a page that is hidden nearly all the time, and saved ~6 ms a showing.
    #[cfg(target_os = "linux")]
    if let Some(main) = app.get_webview_window(crate::MAIN) {
        let handle = app.clone();
        let shared = main.with_webview(move |main| {
            build(&handle, Showing::OffScreenUntilLoaded, Some(main.inner()));
        });
        if shared.is_ok() {
            return;
        }
    }
    build(app, Showing::OffScreenUntilLoaded, None);
}

pub fn show<R: Runtime>(app: &AppHandle<R>) {
    match app.get_webview_window(LABEL) {
        Some(w) => {
            let _ = w.center();
            let _ = w.show();
            let _ = w.set_focus();
        }
        // Closed by the window manager, say: made again, at the cost of a slower start.
        None => build(app, Showing::Now, None),
    }
}

pub fn hide<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.hide();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Showing {
    Now,
    OffScreenUntilLoaded,
}

/// The main window's webview, where the popup can share its web process.
#[cfg(target_os = "linux")]
type Related = Option<webkit2gtk::WebView>;
#[cfg(not(target_os = "linux"))]
type Related = Option<std::convert::Infallible>;

fn build<R: Runtime>(app: &AppHandle<R>, showing: Showing, related: Related) {
    let builder =
        WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html#incoming".into()));
    #[cfg(target_os = "linux")]
    let builder = match related {
        Some(view) => builder.with_related_view(view),
        None => builder,
    };
    #[cfg(not(target_os = "linux"))]
    let _ = related;
    let builder = crate::webview_profile::apply(builder)
        .title("Incoming call — Beckon")
        .inner_size(380.0, 220.0)
        .resizable(false)
        .always_on_top(true)
        .skip_taskbar(true)
        .decorations(false);
    let builder = match showing {
        Showing::Now => builder.center().focused(true),
        Showing::OffScreenUntilLoaded => builder
            .position(-10_000.0, -10_000.0)
            .focused(false)
            .on_page_load(|window, load| {
                if load.event() == PageLoadEvent::Finished {
                    let _ = window.hide();
                }
            }),
    };
    if let Err(e) = builder.build() {
        tracing::warn!(error = %e, "cannot make the incoming-call window");
    }
}
