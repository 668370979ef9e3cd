//! The one Tauri command: the windows send a [`HostCommand`] and the core runs it, the
//! same way it runs one from a browser page. Only opening the browser needs the desktop.

use std::sync::Arc;

use serde_json::Value;
use tauri::{AppHandle, Runtime, State};

use crate::error::CommandError;
use crate::host::{self, HostCommand};
use crate::state::AppState;

#[tauri::command]
pub async fn host<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Arc<AppState>>,
    request: HostCommand,
) -> Result<Value, CommandError> {
    match request {
        HostCommand::OpenInBrowser => crate::open_in_browser(&app).await.map(|()| Value::Null),
        other => host::execute(&state, other).await,
    }
}
