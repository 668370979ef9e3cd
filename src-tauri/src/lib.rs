//! Beckon's desktop shell. All call behaviour is in `beckon-client`'s call manager; this
//! crate wires it to windows: commands in (`commands`), updates out (`bridge`), plus the
//! popup, tray, notifications and settings file a desktop app needs.

mod bridge;
mod commands;
mod error;
mod notify;
mod popup;
mod settings;
mod state;
mod tray;

use std::path::PathBuf;

use tauri::{AppHandle, Builder, Manager, Runtime, WindowEvent};

pub use error::CommandError;
pub use settings::Settings;
pub use state::AppView;

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

pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BECKON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    run_app(Builder::default());
}

pub fn run_app<R: Runtime>(mut builder: Builder<R>) {
    // A second launch only brings the running one forward: one user, one manager. A
    // launch with its own BECKON_CONFIG_DIR is another profile (a demo's second user, a
    // test instance) and runs beside it.
    if std::env::var_os("BECKON_CONFIG_DIR").is_none() {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_main(app)
        }));
    }
    let app = builder
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::save_settings,
            commands::call,
            commands::cancel,
            commands::accept,
            commands::decline,
            commands::hang_up,
            commands::invite_more,
            commands::leave,
            commands::end_call,
            commands::history,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            app.manage(state::AppState::new(config_dir(&handle)));
            tray::create(&handle)?;
            tauri::async_runtime::spawn(async move {
                handle.state::<state::AppState>().resume(&handle).await;
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the main window keeps Beckon in the tray, able to receive calls.
            if let (WindowEvent::CloseRequested { api, .. }, "main") = (event, window.label()) {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!())
        .expect("the Tauri app could not be built");
    app.run(|app, event| {
        if let tauri::RunEvent::ExitRequested { .. } = event {
            let app = app.clone();
            tauri::async_runtime::block_on(async move {
                app.state::<state::AppState>().shut_down().await;
            });
        }
    });
}

/// Brings the main window forward (tray "Open", a second launch).
pub(crate) fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}
