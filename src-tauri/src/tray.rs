//! The tray icon: Beckon keeps running there to receive calls when its window is closed.
//! The menu shows who is signed in and the connection, with Open and Quit.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

/// The menu line that shows the status; kept to update its text.
pub struct Status<R: Runtime>(pub MenuItem<R>);

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Not signed in", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Beckon", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &separator, &open, &quit])?;
    let mut tray = TrayIconBuilder::with_id("beckon")
        .tooltip("Beckon")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => crate::show_main(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(Status(status));
    Ok(())
}

pub fn set_status<R: Runtime>(app: &AppHandle<R>, text: &str) {
    if let Some(status) = app.try_state::<Status<R>>() {
        let _ = status.0.set_text(text);
    }
    if let Some(tray) = app.tray_by_id("beckon") {
        let _ = tray.set_tooltip(Some(format!("Beckon — {text}")));
    }
}
