//! Declares the app's own commands, so the capability files can allow exactly the ones
//! the UI uses and nothing else.

const COMMANDS: &[&str] = &[
    "app_state",
    "save_settings",
    "call",
    "cancel",
    "accept",
    "decline",
    "hang_up",
    "invite_more",
    "leave",
    "end_call",
    "history",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step");
}
