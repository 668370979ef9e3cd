//! Answers the webview's permission requests (microphone, camera, and the rest) from Rust.
//!
//! Left alone, WebView2 on Windows shows its own permission prompt on the first
//! `getUserMedia`, and a "Block" there is kept in the webview's profile: calls are silent
//! from then on with nothing in Beckon to undo it. WKWebView on macOS (through wry) grants
//! capture to any origin when no handler is set. So the app decides itself: the
//! microphone and camera for its own pages, nothing for anything else.
//!
//! Tauri 2.12 passes the kind of request and the webview, not the requesting frame's
//! origin; the origin checked is that of the page the webview shows. Other origins cannot
//! be framed inside it (the CSP's `default-src 'self'` also covers frames), so the page's
//! origin is the requester's.

use tauri::webview::{PermissionKind, PermissionResponse};
use tauri::{Runtime, Url, Webview};

/// Where the app's own pages come from: `tauri://localhost` on macOS and Linux, and wry's
/// stand-in for custom protocols on Windows, `http://tauri.localhost` (or `https://` with
/// `useHttpsScheme`).
const APP_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// The answer for a request of `kind` from a page of `origin` (`scheme://host[:port]`).
///
/// Autoplay on the app's own pages is left to the webview's default rather than denied:
/// the ringtone is Web Audio, which WebView2 puts under its autoplay permission.
pub fn decide(origin: &str, kind: PermissionKind) -> PermissionResponse {
    if !APP_ORIGINS.contains(&origin) {
        return PermissionResponse::Deny;
    }
    match kind {
        PermissionKind::Microphone | PermissionKind::Camera => PermissionResponse::Allow,
        PermissionKind::Autoplay => PermissionResponse::Default,
        _ => PermissionResponse::Deny,
    }
}

/// `scheme://host[:port]` of a URL. Not `Url::origin`, which is opaque ("null") for a
/// scheme the URL standard does not know, such as `tauri:`.
pub fn origin_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The app's handler (`Builder::on_permission_request`). A webview whose URL cannot be
/// read is not trusted with anything.
pub fn on_request<R: Runtime>(webview: Webview<R>, kind: PermissionKind) -> PermissionResponse {
    let (origin, response) = match webview.url() {
        Ok(url) => {
            let origin = origin_of(&url);
            let response = decide(&origin, kind);
            (origin, response)
        }
        Err(e) => (format!("(unknown: {e})"), PermissionResponse::Deny),
    };
    tracing::info!(
        webview = webview.label(),
        ?kind,
        %origin,
        ?response,
        "webview permission request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> String {
        origin_of(&Url::parse(url).unwrap())
    }

    #[test]
    fn app_pages_get_microphone_and_camera() {
        for url in [
            "tauri://localhost/index.html",
            "tauri://localhost",
            "http://tauri.localhost/index.html#incoming",
            "https://tauri.localhost/",
        ] {
            for kind in [PermissionKind::Microphone, PermissionKind::Camera] {
                assert_eq!(
                    decide(&origin(url), kind),
                    PermissionResponse::Allow,
                    "{url} {kind:?}"
                );
            }
        }
    }

    #[test]
    fn app_pages_get_nothing_else() {
        let app = origin("http://tauri.localhost/");
        for kind in [
            PermissionKind::Geolocation,
            PermissionKind::Notifications,
            PermissionKind::ClipboardRead,
            PermissionKind::DisplayCapture,
            PermissionKind::Midi,
            PermissionKind::Sensors,
            PermissionKind::LocalFonts,
            PermissionKind::FileSystemAccess,
            PermissionKind::Other,
        ] {
            assert_eq!(decide(&app, kind), PermissionResponse::Deny, "{kind:?}");
        }
        assert_eq!(
            decide(&app, PermissionKind::Autoplay),
            PermissionResponse::Default
        );
    }

    #[test]
    fn other_origins_get_nothing() {
        for url in [
            "https://example.com/",
            "http://127.0.0.1:5173/",
            "http://localhost/",
            // Look-alikes of the app's origin.
            "http://tauri.localhost.example.com/",
            "http://tauri.localhost:8080/",
            "http://evil.tauri.localhost/",
            "tauri://localhost.evil/",
            "file:///C:/index.html",
            "about:blank",
        ] {
            for kind in [
                PermissionKind::Microphone,
                PermissionKind::Camera,
                PermissionKind::Autoplay,
                PermissionKind::Other,
            ] {
                assert_eq!(
                    decide(&origin(url), kind),
                    PermissionResponse::Deny,
                    "{url} {kind:?}"
                );
            }
        }
    }

    #[test]
    fn origins_keep_a_non_default_port() {
        assert_eq!(
            origin("http://tauri.localhost:80/x"),
            "http://tauri.localhost"
        );
        assert_eq!(
            origin("http://tauri.localhost:8080/x"),
            "http://tauri.localhost:8080"
        );
        assert_eq!(origin("tauri://localhost/a/b?c#d"), "tauri://localhost");
    }
}
