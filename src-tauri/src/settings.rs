//! Who this installation signs in as, kept as JSON in the app's config directory. The
//! device ID is made once and kept, because only the same device ID lets a call survive
//! a restart of the app within the server's grace period.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "settings.json";

/// What the user types on the settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Settings {
    pub server_url: String,
    pub user_id: String,
    pub user_name: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(flatten)]
    settings: Settings,
    device_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot save settings to {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Settings {
    /// Trims what was typed and refuses what cannot work, with a sentence for the user.
    pub fn validated(mut self) -> Result<Settings, SettingsError> {
        self.server_url = self.server_url.trim().to_owned();
        self.user_id = self.user_id.trim().to_owned();
        self.user_name = self.user_name.trim().to_owned();
        self.token = self
            .token
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if !self.server_url.starts_with("ws://") && !self.server_url.starts_with("wss://") {
            return Err(SettingsError::Invalid(
                "the server URL starts with ws:// (for example ws://127.0.0.1:7070/ws)".into(),
            ));
        }
        if !beckon_protocol::is_valid_id(&self.user_id) {
            return Err(SettingsError::Invalid(
                "a user ID is 1 to 64 letters, digits, '-', '_', '.' or '@'".into(),
            ));
        }
        if self.user_name.is_empty() {
            self.user_name = self.user_id.clone();
        }
        Ok(self)
    }
}

/// The saved settings and device ID, if any. A damaged file counts as none (the user is
/// asked again) rather than keeping the app from starting.
pub fn load(dir: &Path) -> Option<(Settings, String)> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    match serde_json::from_str::<Stored>(&text) {
        Ok(s) => Some((s.settings, s.device_id)),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable settings file");
            None
        }
    }
}

/// Saves atomically (write, then rename), keeping the device ID of an earlier save.
pub fn save(dir: &Path, settings: &Settings) -> Result<String, SettingsError> {
    let io = |source| SettingsError::Io {
        path: dir.join(FILE),
        source,
    };
    let device_id = load(dir)
        .map(|(_, d)| d)
        .unwrap_or_else(|| format!("app-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let stored = Stored {
        settings: settings.clone(),
        device_id: device_id.clone(),
    };
    let text = serde_json::to_string_pretty(&stored).map_err(|e| io(e.into()))?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, dir.join(FILE)).map_err(io)?;
    Ok(device_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Settings {
        Settings {
            server_url: " ws://127.0.0.1:7070/ws ".into(),
            user_id: "alice".into(),
            user_name: "".into(),
            token: Some("  ".into()),
        }
    }

    #[test]
    fn saving_keeps_the_device_id_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_none());
        let s = alice().validated().unwrap();
        assert_eq!((s.user_name.as_str(), s.token.as_ref()), ("alice", None));
        let d1 = save(dir.path(), &s).unwrap();
        let d2 = save(dir.path(), &s).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(load(dir.path()), Some((s, d1)));
    }

    #[test]
    fn bad_input_is_refused_with_a_sentence() {
        let mut s = alice();
        s.server_url = "http://x".into();
        assert!(s.validated().unwrap_err().to_string().contains("ws://"));
        let mut s = alice();
        s.user_id = "a b".into();
        assert!(s.validated().is_err());
    }

    #[test]
    fn a_damaged_file_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        assert!(load(dir.path()).is_none());
    }
}
