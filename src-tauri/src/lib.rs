//! Beckon's desktop shell. All call behaviour is in `beckon-client`'s call manager; the
//! core (`state`, `host`) holds it and runs the pages' commands, and this crate wires it to
//! windows: commands in (`commands`), events out (`bridge`), plus the popup, tray,
//! notifications and settings file a desktop app needs. `--headless` runs the same core
//! without windows and serves the pages to a browser instead (`browser`).

mod bridge;
mod browser;
mod commands;
mod dnd;
mod error;
mod headless;
mod host;
mod last_online;
mod notify;
mod permissions;
mod popup;
mod settings;
mod sign_in;
mod state;
mod tray;
mod webview_profile;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{AppHandle, Builder, Context, Manager, Runtime, WebviewWindowBuilder, WindowEvent};
use tokio::sync::OnceCell;

/// The main window's label, as in tauri.conf.json.
pub(crate) const MAIN: &str = "main";

pub use browser::{new_secret, page_url, serve as serve_pages, PageAssets, PageUrl};
pub use error::CommandError;
pub use headless::HeadlessError;
pub use host::HostCommand;
pub use settings::{Settings, SettingsField};
pub use state::{AppState, AppView, HostEvent};

/// Where settings live: `BECKON_CONFIG_DIR` when set (tests run several instances side by
/// side), else the platform's config directory for the app.
fn config_dir<R: Runtime>(app: &AppHandle<R>) -> PathBuf {
    if let Some(dir) = std::env::var_os("BECKON_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    app.path()
        .app_config_dir()
        .unwrap_or_else(|_| PathBuf::from(".beckon"))
}

/// Starts the desktop app, or with `--headless` the core and browser mode only.
pub fn run() -> Result<(), HeadlessError> {
    // Logs to stderr: headless mode's stdout is its page URL, for a person or a program.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BECKON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let context = tauri::generate_context!();
    if std::env::args().any(|a| a == "--headless") {
        return headless::run(context);
    }
    run_app(Builder::default(), context);
    Ok(())
}

/// The argument the login item starts the app with.
const START_IN_TRAY: &str = "--in-tray";

/// The browser-mode server of a desktop app, started the first time a window asks.
#[derive(Default)]
struct BrowserPages(OnceCell<PageUrl>);

pub fn run_app<R: Runtime>(mut builder: Builder<R>, context: Context<R>) {
    // A second launch only brings the running one forward: one user, one manager. A
    // launch with its own BECKON_CONFIG_DIR is another profile (a demo's second user, a
    // test instance) and runs beside it.
    if std::env::var_os("BECKON_CONFIG_DIR").is_none() {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main(app)
        }));
    }
    let app = builder
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .app_name("Beckon")
                .arg(START_IN_TRAY)
                .build(),
        )
        .invoke_handler(tauri::generate_handler![commands::host])
        .on_permission_request(permissions::on_request)
        .setup(|app| {
            let handle = app.handle().clone();
            let state = Arc::new(AppState::new(config_dir(&handle)));
            app.manage(state.clone());
            app.manage(BrowserPages::default());
            create_main(&handle)?;
            // Started with the computer: ready for calls in the tray, no window in the way.
            if std::env::args().any(|a| a == START_IN_TRAY) {
                if let Some(main) = handle.get_webview_window(MAIN) {
                    main.hide()?;
                }
            }
            popup::prepare(&handle);
            tray::create(&handle)?;
            tauri::async_runtime::spawn(bridge::run(handle.clone(), state.subscribe()));
            tauri::async_runtime::spawn(async move {
                state.resume().await;
                bridge::announce_current(&handle).await;
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the main window keeps Beckon in the tray, able to receive calls;
            // closing the popup puts it away until the next call.
            if let WindowEvent::CloseRequested { api, .. } = event {
                if matches!(window.label(), MAIN | popup::LABEL) {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .build(context)
        .expect("the Tauri app could not be built");
    app.run(|app, event| {
        if let tauri::RunEvent::ExitRequested { .. } = event {
            let app = app.clone();
            tauri::async_runtime::block_on(async move {
                app.state::<Arc<AppState>>().shut_down().await;
            });
        }
    });
}

/// The main window, from its entry in tauri.conf.json (`"create": false` there), built
/// here so it gets this launch's WebView2 profile like the popup does.
fn create_main<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == MAIN) else {
        return Err(tauri::Error::WindowNotFound);
    };
    webview_profile::apply(WebviewWindowBuilder::from_config(app, config)?).build()?;
    Ok(())
}

/// The desktop's assets, for browser mode inside a running app.
struct BundledAssets<R: Runtime>(AppHandle<R>);

impl<R: Runtime> PageAssets for BundledAssets<R> {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.0
            .asset_resolver()
            .get(path.to_owned())
            .map(|a| a.bytes)
    }
}

/// Serves the pages on loopback (once per launch) and opens them in the system browser:
/// on a webview without WebRTC that is where the call's audio and video run.
pub(crate) async fn open_in_browser<R: Runtime>(app: &AppHandle<R>) -> Result<(), CommandError> {
    let pages = app.state::<BrowserPages>();
    let url = pages
        .0
        .get_or_try_init(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let secret = new_secret();
            let url = page_url(&listener, &secret)?;
            let state = app.state::<Arc<AppState>>().inner().clone();
            let assets = Arc::new(BundledAssets(app.clone()));
            tauri::async_runtime::spawn(async move {
                let forever = std::future::pending();
                if let Err(e) = serve_pages(listener, secret, state, assets, forever).await {
                    tracing::warn!(error = %e, "browser mode stopped");
                }
            });
            Ok::<_, std::io::Error>(url)
        })
        .await
        .map_err(|e| CommandError::new(error::CommandErrorKind::Io, e.to_string()))?;
    open::that_detached(&url.url)
        .map_err(|e| CommandError::new(error::CommandErrorKind::Io, e.to_string()))
}

/// Brings the main window forward (tray "Open", a second launch).
pub(crate) fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}
