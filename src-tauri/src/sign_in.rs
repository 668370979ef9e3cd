//! Trying settings before they are saved: connect, log in, log out. Saved settings that
//! cannot work would leave the user on a home page stuck "Reconnecting…" with a raw error;
//! trying them first lets the settings page say, next to the field at fault, what is wrong
//! in words the user can act on.

use beckon_client::Requests;
use std::time::Duration;

use beckon_client::{WireClient, WireConfig, WireError};
use beckon_protocol::{ErrorCode, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::error::{CommandError, CommandErrorKind};
use crate::settings::{Settings, SettingsField};

/// Long enough for a server across the world, short enough that a wrong address does not
/// leave the user watching "Signing in…".
const TRY_TIMEOUT: Duration = Duration::from_secs(8);

/// Whether `settings` sign in; the device ID is the one the app will use, so the server
/// sees the same device it will see afterwards.
pub async fn try_settings(settings: &Settings, device_id: &str) -> Result<(), CommandError> {
    let config = WireConfig {
        request_timeout: Some(TRY_TIMEOUT),
        connect_timeout: TRY_TIMEOUT,
        ..WireConfig::default()
    };
    let (wire, _events) = WireClient::connect_with(&settings.server_url, config)
        .await
        .map_err(|e| problem(&e, settings))?;
    let login = wire
        .login(
            &settings.user_id,
            &settings.user_name,
            settings.token.clone(),
            Some(device_id.to_owned()),
        )
        .await;
    if login.is_ok() {
        // The call manager logs in again at once; this session must not linger meanwhile.
        let _ = wire.logout().await;
    }
    wire.close().await;
    match login {
        Ok(l) if l.protocol_version != PROTOCOL_VERSION => Err(at(
            SettingsField::ServerUrl,
            CommandErrorKind::Server,
            format!(
                "The server at {} speaks protocol version {}, and this app {PROTOCOL_VERSION}: \
                 one of them needs updating.",
                host_of(settings),
                l.protocol_version
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(problem(&e, settings)),
    }
}

fn at(field: SettingsField, kind: CommandErrorKind, message: String) -> CommandError {
    CommandError::new(kind, message).at(field)
}

/// `host:port` of the server URL, as the user would recognise it.
fn host_of(settings: &Settings) -> String {
    match url::Url::parse(&settings.server_url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => settings.server_url.clone(),
        },
        Err(_) => settings.server_url.clone(),
    }
}

/// A socket error in words, without the OS's error number.
fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "nothing answers on that port".into(),
        ErrorKind::TimedOut => "no answer".into(),
        // getaddrinfo's failures come as `Other` or `Uncategorized`, with this wording.
        _ if e.to_string().contains("lookup") => "no computer has that name".into(),
        kind => kind.to_string(),
    }
}

/// What a failed try means for the user, and which field to fix.
fn problem(e: &WireError, settings: &Settings) -> CommandError {
    use CommandErrorKind::{Offline, Server};
    use SettingsField::{ServerUrl, Token, UserId, UserName};
    let host = host_of(settings);
    let unreachable = |detail: &str| {
        at(
            ServerUrl,
            Offline,
            format!(
                "Cannot reach the server at {host} ({detail}). Check the address, and that \
                 the server is running."
            ),
        )
    };
    match e {
        WireError::Io(io) => unreachable(&io_words(io)),
        WireError::Timeout(d) => at(
            ServerUrl,
            Offline,
            format!("The server at {host} did not answer within {} s.", d.as_secs()),
        ),
        WireError::WebSocket(ws) => match ws.as_ref() {
            WsError::Io(io) => unreachable(&io_words(io)),
            WsError::Http(response) => at(
                ServerUrl,
                Server,
                format!(
                    "Something answered at {host}, but not a Beckon server at this path \
                     (HTTP {}). The address usually ends in /ws.",
                    response.status().as_u16()
                ),
            ),
            WsError::Tls(t) => at(
                ServerUrl,
                Offline,
                format!("A secure connection to {host} failed ({t}). Try ws:// if the server has no TLS."),
            ),
            WsError::Url(u) => at(ServerUrl, Server, format!("This address cannot be used: {u}.")),
            other => unreachable(&other.to_string()),
        },
        WireError::Server(body) => match body.code {
            ErrorCode::AuthFailed if settings.token.is_none() => at(
                Token,
                Server,
                "This server needs an access token: ask whoever runs it for one.".into(),
            ),
            ErrorCode::AuthFailed => at(
                Token,
                Server,
                "The token was refused: ask whoever runs your server for a new one.".into(),
            ),
            ErrorCode::InvalidRequest if body.message.contains("userName") => {
                at(UserName, Server, format!("The server refused this display name: {}.", body.message))
            }
            ErrorCode::InvalidRequest if body.message.contains("userId") => {
                at(UserId, Server, format!("The server refused this user ID: {}.", body.message))
            }
            _ => at(
                ServerUrl,
                Server,
                format!("The server refused to sign you in: {} ({}).", body.message, body.code.code()),
            ),
        },
        other => at(
            ServerUrl,
            Offline,
            format!("Signing in to {host} failed: {other}."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_protocol::ErrorBody;

    fn settings(token: Option<&str>) -> Settings {
        Settings {
            server_url: "ws://127.0.0.1:7070/ws".into(),
            user_id: "alice".into(),
            user_name: "Alice".into(),
            token: token.map(Into::into),
        }
    }

    fn refused(code: ErrorCode, message: &str) -> WireError {
        WireError::Server(ErrorBody::new(Some(1), code, message))
    }

    #[test]
    fn each_failure_names_its_field_and_says_what_to_do() {
        let cases = [
            (
                WireError::Io(std::io::ErrorKind::ConnectionRefused.into()),
                None,
                SettingsField::ServerUrl,
                "Cannot reach the server at 127.0.0.1:7070 (nothing answers on that port)",
            ),
            (
                WireError::Timeout(TRY_TIMEOUT),
                None,
                SettingsField::ServerUrl,
                "did not answer within 8 s",
            ),
            (
                refused(ErrorCode::AuthFailed, "InvalidToken"),
                Some("x"),
                SettingsField::Token,
                "The token was refused",
            ),
            (
                refused(ErrorCode::AuthFailed, "token required"),
                None,
                SettingsField::Token,
                "needs an access token",
            ),
            (
                refused(
                    ErrorCode::InvalidRequest,
                    "`userName` must be 1 to 256 bytes",
                ),
                None,
                SettingsField::UserName,
                "display name",
            ),
        ];
        for (e, token, field, words) in cases {
            let got = problem(&e, &settings(token));
            assert_eq!(got.field, Some(field), "{e}");
            assert!(got.message.contains(words), "{e}: {}", got.message);
        }
    }
}
