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

/// The settings field a problem is about, so the page can say it next to that field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum SettingsField {
    ServerUrl,
    UserId,
    UserName,
    Token,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{message}")]
    Invalid {
        field: SettingsField,
        message: String,
    },
    #[error("cannot save settings to {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(field: SettingsField, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        field,
        message: message.into(),
    }
}

/// The path beckon-server serves its WebSocket on; added when a URL names none.
const DEFAULT_PATH: &str = "/ws";

impl Settings {
    /// Trims what was typed, converts what can only mean one thing, and refuses what
    /// cannot work, with a sentence for the user.
    pub fn validated(mut self) -> Result<Settings, SettingsError> {
        self.server_url = server_url(&self.server_url)?;
        self.user_id = self.user_id.trim().to_owned();
        self.user_name = self.user_name.trim().to_owned();
        self.token = self
            .token
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if !beckon_protocol::is_valid_id(&self.user_id) {
            return Err(invalid(
                SettingsField::UserId,
                format!(
                    "A user ID is 1 to {} letters, digits, '-', '_', '.', '@' or '+'.",
                    beckon_protocol::limits::MAX_ID_BYTES
                ),
            ));
        }
        if self.user_name.is_empty() {
            self.user_name = self.user_id.clone();
        }
        let max = beckon_protocol::limits::MAX_USER_NAME_BYTES;
        if self.user_name.len() > max {
            return Err(invalid(
                SettingsField::UserName,
                format!(
                    "A display name is at most {max} bytes; this one has {}.",
                    self.user_name.len()
                ),
            ));
        }
        Ok(self)
    }
}

/// The server's WebSocket URL from what was typed: `ws://` and `wss://` as they are,
/// `http://` and `https://` (the address people copy from a browser) turned into their
/// WebSocket twins, a bare `host:port` taken as `ws://`, and `/ws` added when no path is
/// given.
fn server_url(typed: &str) -> Result<String, SettingsError> {
    let typed = typed.trim();
    let example = "for example ws://beckon.example.com:7070/ws or 127.0.0.1:7070";
    if typed.is_empty() {
        return Err(invalid(
            SettingsField::ServerUrl,
            format!("Type your server's address, {example}."),
        ));
    }
    let with_scheme = match typed.split_once("://") {
        None => format!("ws://{typed}"),
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => format!("ws://{rest}"),
            "wss" | "https" => format!("wss://{rest}"),
            other => {
                return Err(invalid(
                    SettingsField::ServerUrl,
                    format!(
                        "Beckon cannot use a {other}:// address: use ws:// or wss://, {example}."
                    ),
                ))
            }
        },
    };
    let mut url = url::Url::parse(&with_scheme).map_err(|e| {
        invalid(
            SettingsField::ServerUrl,
            format!("\"{typed}\" is not a server address ({e}); {example}."),
        )
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            SettingsField::ServerUrl,
            format!("\"{typed}\" names no server; {example}."),
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(DEFAULT_PATH);
    }
    Ok(url.to_string())
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

/// This installation's device ID: the saved one, or a new one that [`save`] will keep.
pub fn device_id(dir: &Path) -> String {
    load(dir)
        .map(|(_, d)| d)
        .unwrap_or_else(|| format!("app-{}", uuid::Uuid::new_v4().simple()))
}

/// Saves atomically (write, then rename).
pub fn save(dir: &Path, settings: &Settings, device_id: &str) -> Result<(), SettingsError> {
    let io = |source| SettingsError::Io {
        path: dir.join(FILE),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let stored = Stored {
        settings: settings.clone(),
        device_id: device_id.to_owned(),
    };
    let text = serde_json::to_string_pretty(&stored).map_err(|e| io(e.into()))?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, dir.join(FILE)).map_err(io)?;
    Ok(())
}

/// Removes the saved settings (and with them the device ID). Already gone is fine.
pub fn forget(dir: &Path) -> Result<(), SettingsError> {
    match std::fs::remove_file(dir.join(FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SettingsError::Io {
            path: dir.join(FILE),
            source: e,
        }),
        _ => Ok(()),
    }
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
        let d1 = device_id(dir.path());
        save(dir.path(), &s, &d1).unwrap();
        assert_eq!(device_id(dir.path()), d1);
        assert_eq!(load(dir.path()), Some((s, d1)));
    }

    fn url(typed: &str) -> Result<String, SettingsError> {
        Settings {
            server_url: typed.into(),
            ..alice()
        }
        .validated()
        .map(|s| s.server_url)
    }

    #[test]
    fn server_addresses_people_type_are_converted() {
        for (typed, want) in [
            (" ws://127.0.0.1:7070/ws ", "ws://127.0.0.1:7070/ws"),
            ("http://127.0.0.1:7070/ws", "ws://127.0.0.1:7070/ws"),
            ("HTTPS://beckon.example.com", "wss://beckon.example.com/ws"),
            (
                "wss://beckon.example.com/calls",
                "wss://beckon.example.com/calls",
            ),
            ("127.0.0.1:7070", "ws://127.0.0.1:7070/ws"),
            ("beckon.local", "ws://beckon.local/ws"),
        ] {
            assert_eq!(url(typed).unwrap(), want, "{typed}");
        }
    }

    fn field_of(e: SettingsError) -> SettingsField {
        match e {
            SettingsError::Invalid { field, .. } => field,
            other => panic!("not a field problem: {other}"),
        }
    }

    #[test]
    fn bad_input_is_refused_with_a_sentence_for_its_field() {
        for typed in ["", "ftp://x", "ws://", "http://exa mple.com"] {
            let e = url(typed).unwrap_err();
            assert!(e.to_string().contains("ws://"), "{typed}: {e}");
            assert_eq!(field_of(e), SettingsField::ServerUrl, "{typed}");
        }
        let mut s = alice();
        s.user_id = "a b".into();
        assert_eq!(field_of(s.validated().unwrap_err()), SettingsField::UserId);
        let mut s = alice();
        s.user_name = "é".repeat(129);
        let e = s.validated().unwrap_err();
        assert!(e.to_string().contains("256 bytes"), "{e}");
        assert_eq!(field_of(e), SettingsField::UserName);
    }

    #[test]
    fn a_damaged_file_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        assert!(load(dir.path()).is_none());
    }
}
