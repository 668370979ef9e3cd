use serde::Serialize;

use beckon_client::{ActionError, Error};

use crate::settings::{SettingsError, SettingsField};

/// What a failed command hands the UI: a kind to branch on and a sentence to show.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[error("{message}")]
pub struct CommandError {
    pub kind: CommandErrorKind,
    pub message: String,
    /// The settings field the problem is about, when it is about one.
    pub field: Option<SettingsField>,
}

/// The kinds of failure the UI can tell apart. An enum, exported to TypeScript, so the UI
/// can only branch on kinds the app really sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CommandErrorKind {
    /// Nobody is signed in: the settings need completing first.
    NotSignedIn,
    /// The action does not fit the call as it is now (hang up with no call, say).
    NotNow,
    /// User IDs or settings that cannot be right.
    Invalid,
    /// The server refused the request.
    Server,
    /// The server could not be asked: not connected, no answer, or the connection dropped.
    Offline,
    /// The settings file could not be read or written.
    Io,
}

impl CommandError {
    pub fn new(kind: CommandErrorKind, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            message: message.into(),
            field: None,
        }
    }

    pub fn at(self, field: SettingsField) -> Self {
        CommandError {
            field: Some(field),
            ..self
        }
    }

    pub fn not_signed_in() -> Self {
        Self::new(
            CommandErrorKind::NotSignedIn,
            "open Settings and sign in first",
        )
    }
}

impl From<ActionError> for CommandError {
    fn from(e: ActionError) -> Self {
        let kind = match e {
            ActionError::InvalidUsers { .. } => CommandErrorKind::Invalid,
            _ => CommandErrorKind::NotNow,
        };
        Self::new(kind, e.to_string())
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::Server(_) | Error::UnknownServerError { .. } => CommandErrorKind::Server,
            _ => CommandErrorKind::Offline,
        };
        Self::new(kind, e.to_string())
    }
}

impl From<SettingsError> for CommandError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Invalid { field, message } => {
                Self::new(CommandErrorKind::Invalid, message).at(field)
            }
            SettingsError::Io { .. } => Self::new(CommandErrorKind::Io, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The UI reads `kind` as one of the strings in ui/src/generated/CommandErrorKind.ts.
    #[test]
    fn a_command_error_reaches_the_ui_as_a_camel_case_kind_and_a_sentence() {
        let json = |e: CommandError| serde_json::to_value(e).unwrap();
        assert_eq!(
            json(CommandError::not_signed_in()),
            serde_json::json!({"kind": "notSignedIn", "message": "open Settings and sign in first", "field": null})
        );
        let refused = ActionError::InvalidUsers {
            message: "bad id".into(),
        };
        assert_eq!(json(refused.into())["kind"], "invalid");
        let offline = Error::NotConnected("reconnecting".into());
        assert_eq!(json(offline.into())["kind"], "offline");
    }
}
