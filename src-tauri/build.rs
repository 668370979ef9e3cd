//! Declares the app's own commands, so the capability files can allow exactly the ones
//! the UI uses and nothing else. There is one: every page command is a `HostCommand`.

const COMMANDS: &[&str] = &["host"];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step");
}
