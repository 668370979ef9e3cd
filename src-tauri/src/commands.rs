//! The one Tauri command: the windows send a [`HostCommand`] and the core runs it, the
//! same way it runs one from a browser page. Only opening the browser and titling the
//! window need the desktop.

use std::sync::Arc;

use serde_json::Value;
use tauri::{AppHandle, Runtime, State, WebviewWindow};

use crate::error::CommandError;
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
        HostCommand::SetWindowTitle { title } => {
            if let Err(e) = window.set_title(&host::window_title(&title)) {
                tracing::info!(error = %e, "cannot set the window title");
            }
            Ok(Value::Null)
        }
        other => host::execute(&state, other).await,
    }
}
