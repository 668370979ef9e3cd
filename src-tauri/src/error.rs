use serde::Serialize;

use beckon_client::{ActionError, Error};

use crate::settings::SettingsError;

/// What a failed command hands the UI: a kind to branch on and a sentence to show.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[error("{message}")]
pub struct CommandError {
    /// `notSignedIn`, `notNow`, `invalid`, `server`, `offline` or `io`.
    pub kind: String,
    pub message: String,
}

impl CommandError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        CommandError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    pub fn not_signed_in() -> Self {
        Self::new("notSignedIn", "open Settings and sign in first")
    }
}

impl From<ActionError> for CommandError {
    fn from(e: ActionError) -> Self {
        let kind = match e {
            ActionError::InvalidUsers { .. } => "invalid",
            _ => "notNow",
        };
        Self::new(kind, e.to_string())
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::Server(_) | Error::UnknownServerError { .. } => "server",
            _ => "offline",
        };
        Self::new(kind, e.to_string())
    }
}

impl From<SettingsError> for CommandError {
    fn from(e: SettingsError) -> Self {
        let kind = match e {
            SettingsError::Invalid(_) => "invalid",
            SettingsError::Io { .. } => "io",
        };
        Self::new(kind, e.to_string())
    }
}
