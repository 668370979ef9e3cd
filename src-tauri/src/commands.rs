//! The one Tauri command: the windows send a [`HostCommand`] and the core runs it, the
//! same way it runs one from a browser page. Opening the browser, titling the window and
//! starting at login need the desktop.

use std::sync::Arc;

use serde_json::Value;
use tauri::{AppHandle, Runtime, State, WebviewWindow};

use tauri_plugin_autostart::ManagerExt;

use crate::error::{CommandError, CommandErrorKind};
use crate::host::{self, HostCommand};
use crate::state::AppState;

#[tauri::command]
pub async fn host<R: Runtime>(
    app: AppHandle<R>,
    window: WebviewWindow<R>,
    state: State<'_, Arc<AppState>>,
    request: HostCommand,
) -> Result<Value, CommandError> {
    match request {
        HostCommand::OpenInBrowser => crate::open_in_browser(&app).await.map(|()| Value::Null),
        HostCommand::StartAtLogin => app
            .autolaunch()
            .is_enabled()
            .map(Value::Bool)
            .map_err(login_item_error),
        HostCommand::SetStartAtLogin { on } => {
            let login_item = app.autolaunch();
            let done = if on {
                login_item.enable()
            } else {
                login_item.disable()
            };
            done.map(|()| Value::Null).map_err(login_item_error)
        }
        HostCommand::HideWindow => {
            if let Err(e) = window.hide() {
                tracing::info!(error = %e, "cannot hide the window");
            }
            Ok(Value::Null)
        }
        HostCommand::SetWindowTitle { title } => {
            if let Err(e) = window.set_title(&host::window_title(&title)) {
                tracing::info!(error = %e, "cannot set the window title");
            }
            Ok(Value::Null)
        }
        other => host::execute(&state, other).await,
    }
}

fn login_item_error(e: tauri_plugin_autostart::Error) -> CommandError {
    CommandError::new(
        CommandErrorKind::Io,
        format!("cannot change how Beckon starts with the computer: {e}"),
    )
}
