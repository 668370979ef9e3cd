//! The commands the UI may call: each is a thin step into the call manager, which owns
//! all call logic (and is tested without a UI).

use beckon_client::manager::HistoryEntry;
use beckon_client::CallType;
use tauri::{AppHandle, Runtime, State};

use crate::error::CommandError;
use crate::settings::Settings;
use crate::state::{AppState, AppView};

type Done = Result<(), CommandError>;

#[tauri::command]
pub async fn app_state(state: State<'_, AppState>) -> Result<AppView, CommandError> {
    Ok(state.view().await)
}

#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: Settings,
) -> Done {
    state.save(&app, settings).await
}

#[tauri::command]
pub async fn call(state: State<'_, AppState>, users: Vec<String>, call_type: CallType) -> Done {
    Ok(state.manager().await?.call(users, call_type).await?)
}

#[tauri::command]
pub async fn cancel(state: State<'_, AppState>) -> Done {
    Ok(state.manager().await?.cancel().await?)
}

#[tauri::command]
pub async fn accept(state: State<'_, AppState>, call_id: String) -> Done {
    Ok(state.manager().await?.accept_call(&call_id).await?)
}

#[tauri::command]
pub async fn decline(state: State<'_, AppState>, call_id: String) -> Done {
    Ok(state.manager().await?.decline_call(&call_id).await?)
}

#[tauri::command]
pub async fn hang_up(state: State<'_, AppState>) -> Done {
    Ok(state.manager().await?.hang_up().await?)
}

#[tauri::command]
pub async fn invite_more(state: State<'_, AppState>, users: Vec<String>) -> Done {
    Ok(state.manager().await?.invite_more(users).await?)
}

#[tauri::command]
pub async fn leave(state: State<'_, AppState>) -> Done {
    Ok(state.manager().await?.leave().await?)
}

#[tauri::command]
pub async fn end_call(state: State<'_, AppState>) -> Done {
    Ok(state.manager().await?.end().await?)
}

#[tauri::command]
pub async fn history(
    state: State<'_, AppState>,
    count: u32,
) -> Result<Vec<HistoryEntry>, CommandError> {
    let manager = state.manager().await?;
    // A hang-up reported a moment ago may still be on its way; without this the call it
    // ended would be listed as still in progress.
    manager.flush().await;
    let me = manager.client().user_id().to_owned();
    let calls = manager.history(count.clamp(1, 100)).await?;
    Ok(calls
        .iter()
        .map(|c| beckon_client::manager::summarize(c, &me))
        .collect())
}
