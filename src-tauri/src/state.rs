//! The app's one piece of state: the signed-in user's call manager, replaced when the
//! settings change. Everything about calls lives in the manager; this only holds it.

use std::path::PathBuf;

use beckon_client::{CallManager, ClientConfig, MachineConfig, Snapshot};
use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tokio::sync::Mutex;

use crate::bridge;
use crate::error::CommandError;
use crate::settings::{self, Settings};

/// What a window needs to draw itself after (re)loading.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AppView {
    pub settings: Option<Settings>,
    pub snapshot: Option<Snapshot>,
}

pub struct AppState {
    config_dir: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: Option<Settings>,
    manager: Option<CallManager>,
    bridge: Option<tauri::async_runtime::JoinHandle<()>>,
}

impl AppState {
    pub fn new(config_dir: PathBuf) -> Self {
        AppState {
            config_dir,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Signs in with the saved settings, if there are any.
    pub async fn resume<R: Runtime>(&self, app: &AppHandle<R>) {
        if let Some((settings, device_id)) = settings::load(&self.config_dir) {
            self.sign_in(app, settings, device_id).await;
        }
    }

    /// Validates, saves and signs in (out of the previous account first).
    pub async fn save<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        settings: Settings,
    ) -> Result<(), CommandError> {
        let settings = settings.validated()?;
        let device_id = settings::save(&self.config_dir, &settings)?;
        self.sign_in(app, settings, device_id).await;
        Ok(())
    }

    async fn sign_in<R: Runtime>(&self, app: &AppHandle<R>, settings: Settings, device_id: String) {
        let mut inner = self.inner.lock().await;
        if let Some(bridge) = inner.bridge.take() {
            bridge.abort();
        }
        if let Some(old) = inner.manager.take() {
            old.logout().await;
        }
        let config = ClientConfig::new(&settings.server_url, &settings.user_id)
            .user_name(&settings.user_name)
            .token(settings.token.clone())
            .device_id(device_id);
        let (manager, updates) = CallManager::start(config, machine_config());
        bridge::announce(app, &manager.snapshot());
        inner.bridge = Some(tauri::async_runtime::spawn(bridge::run(
            app.clone(),
            updates,
        )));
        inner.manager = Some(manager);
        inner.settings = Some(settings.clone());
        bridge::settings_changed(app, &settings);
    }

    pub async fn manager(&self) -> Result<CallManager, CommandError> {
        self.inner
            .lock()
            .await
            .manager
            .clone()
            .ok_or_else(CommandError::not_signed_in)
    }

    pub async fn view(&self) -> AppView {
        let inner = self.inner.lock().await;
        AppView {
            settings: inner.settings.clone(),
            snapshot: inner.manager.as_ref().map(CallManager::snapshot),
        }
    }

    /// On quit: hang-ups on their way are let through, then the connection closes.
    pub async fn shut_down(&self) {
        let inner = self.inner.lock().await;
        if let Some(m) = &inner.manager {
            m.shutdown().await;
        }
    }
}

/// How long this user's calls ring: 60 s, or `BECKON_RING_SECONDS` (2 to 600). A knob for
/// operators and for the end-to-end tests, whose "no answer" case cannot wait a minute.
fn machine_config() -> MachineConfig {
    let mut config = MachineConfig::default();
    if let Ok(raw) = std::env::var("BECKON_RING_SECONDS") {
        match raw.trim().parse::<u32>() {
            Ok(s) if (2..=600).contains(&s) => config.invite_timeout = s,
            _ => tracing::warn!(
                value = %raw,
                default = config.invite_timeout,
                "BECKON_RING_SECONDS is not a number of seconds from 2 to 600; using the default"
            ),
        }
    }
    config
}
