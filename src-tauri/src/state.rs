//! The app's one piece of state: the signed-in user's call manager, replaced when the
//! settings change. Everything about calls lives in the manager; this only holds it and
//! tells whoever listens (the desktop windows, a browser page) what changed. It knows
//! nothing of Tauri, so the headless browser mode runs the very same core.

use std::path::PathBuf;

use beckon_client::{CallManager, ClientConfig, Connection, MachineConfig, Snapshot, Update};
use serde::Serialize;
use tokio::sync::{broadcast, Mutex};

use crate::error::CommandError;
use crate::error::CommandErrorKind;
use crate::settings::{self, Settings};
use crate::{dnd, last_online, sign_in};

/// Events kept for a listener that fell behind. Each update carries the whole snapshot,
/// so one that misses some still draws the right page; only one-off notices are lost.
const EVENT_BUFFER: usize = 256;

/// What a window needs to draw itself after (re)loading.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AppView {
    pub settings: Option<Settings>,
    pub snapshot: Option<Snapshot>,
}

/// What the core tells its windows, in order.
#[derive(Debug, Clone)]
pub enum HostEvent {
    Update(Box<Update>),
    /// `None`: signed out.
    Settings(Option<Settings>),
    /// From outside the page (the tray): what the page that carries the media should do.
    Control(CallControl),
    /// The media page's microphone is muted (or not), as it reported.
    Muted(bool),
}

/// What the tray asks of the page that carries the call's media: mute lives there, with
/// the microphone, not in the call manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CallControl {
    ToggleMute,
}

impl HostEvent {
    /// The event's name on the UI side (`ui/src/api.ts`).
    pub fn name(&self) -> &'static str {
        match self {
            HostEvent::Update(_) => "beckon://update",
            HostEvent::Settings(_) => "beckon://settings",
            HostEvent::Control(_) => "beckon://control",
            HostEvent::Muted(_) => "beckon://muted",
        }
    }

    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            HostEvent::Update(u) => serde_json::to_value(u),
            HostEvent::Settings(s) => serde_json::to_value(s),
            HostEvent::Control(c) => serde_json::to_value(c),
            HostEvent::Muted(m) => serde_json::to_value(m),
        };
        value.unwrap_or(serde_json::Value::Null)
    }
}

pub struct AppState {
    config_dir: PathBuf,
    events: broadcast::Sender<HostEvent>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    settings: Option<Settings>,
    manager: Option<CallManager>,
    forward: Option<tokio::task::JoinHandle<()>>,
}

impl AppState {
    pub fn new(config_dir: PathBuf) -> Self {
        AppState {
            config_dir,
            events: broadcast::channel(EVENT_BUFFER).0,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Everything the core says from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.events.subscribe()
    }

    /// Passes an event to every listener (nobody listening is fine).
    pub fn tell(&self, event: HostEvent) {
        let _ = self.events.send(event);
    }

    /// Signs in with the saved settings, if there are any.
    pub async fn resume(&self) {
        if let Some((settings, device_id)) = settings::load(&self.config_dir) {
            self.sign_in(settings, device_id).await;
        }
    }

    /// Validates, tries and saves the settings, then signs in with them. Settings that do
    /// not sign in are not saved: the error names the field to fix, and the account signed
    /// in before stays signed in.
    pub async fn save(&self, settings: Settings) -> Result<(), CommandError> {
        let settings = settings.validated()?;
        let device_id = settings::device_id(&self.config_dir);
        sign_in::try_settings(&settings, &device_id).await?;
        settings::save(&self.config_dir, &settings, &device_id)?;
        self.sign_in(settings, device_id).await;
        Ok(())
    }

    async fn sign_in(&self, settings: Settings, device_id: String) {
        let mut inner = self.inner.lock().await;
        if let Some(forward) = inner.forward.take() {
            forward.abort();
        }
        if let Some(old) = inner.manager.take() {
            old.logout().await;
        }
        let config = ClientConfig::new(&settings.server_url, &settings.user_id)
            .user_name(&settings.user_name)
            .token(settings.token.clone())
            .device_id(device_id)
            .catch_up_since(last_online::read(&self.config_dir, &settings.user_id));
        let machine = MachineConfig {
            do_not_disturb: dnd::is_on(&self.config_dir),
            ..machine_config()
        };
        let (manager, mut updates) = CallManager::start(config, machine);
        let events = self.events.clone();
        let (dir, user) = (self.config_dir.clone(), settings.user_id.clone());
        inner.forward = Some(tokio::spawn(async move {
            let mut online = false;
            let mut tick = tokio::time::interval(last_online::EVERY);
            loop {
                tokio::select! {
                    update = updates.next() => {
                        let Some(update) = update else { break };
                        let now = update.snapshot.connection == Connection::Connected;
                        // Going online and dropping off are both moments it was online.
                        if now != online {
                            last_online::write(&dir, &user);
                            online = now;
                        }
                        // No listener yet is fine: a window asks for the state when it opens.
                        let _ = events.send(HostEvent::Update(Box::new(update)));
                    }
                    _ = tick.tick(), if online => last_online::write(&dir, &user),
                }
            }
        }));
        inner.manager = Some(manager);
        inner.settings = Some(settings.clone());
        let _ = self.events.send(HostEvent::Settings(Some(settings)));
    }

    /// Do not disturb on or off, kept for the next start.
    pub async fn set_do_not_disturb(&self, on: bool) -> Result<(), CommandError> {
        dnd::set(&self.config_dir, on)
            .map_err(|e| CommandError::new(CommandErrorKind::Io, e.to_string()))?;
        self.manager().await?.set_do_not_disturb(on).await?;
        Ok(())
    }

    /// Signs out and forgets the account here: the next start asks for settings again.
    pub async fn sign_out(&self) -> Result<(), CommandError> {
        let mut inner = self.inner.lock().await;
        if let Some(forward) = inner.forward.take() {
            forward.abort();
        }
        if let Some(manager) = inner.manager.take() {
            manager.logout().await;
        }
        inner.settings = None;
        settings::forget(&self.config_dir)?;
        let _ = self.events.send(HostEvent::Settings(None));
        Ok(())
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
        if let (Some(m), Some(s)) = (&inner.manager, &inner.settings) {
            if m.snapshot().connection == Connection::Connected {
                last_online::write(&self.config_dir, &s.user_id);
            }
        }
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
