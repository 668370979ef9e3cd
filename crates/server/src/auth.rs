//! Who may log in as whom. Token mode checks an HS256 JWT (`sub` = user ID, `exp`) signed
//! with the server's secret; open mode trusts the claimed user ID and exists for local
//! development only (the binary refuses it on non-loopback addresses unless forced).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beckon_protocol::ErrorCode;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Clone)]
pub enum AuthMode {
    Open,
    Token { secret: Vec<u8> },
}

impl std::fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthMode::Open => f.write_str("Open"),
            AuthMode::Token { .. } => f.write_str("Token { secret: <hidden> }"),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
}

pub struct Authenticator {
    key: Option<DecodingKey>,
    validation: Validation,
}

impl Authenticator {
    pub fn new(mode: &AuthMode) -> Authenticator {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        // A token minted for later (`nbf`) must not open a session before its time.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Authenticator {
            key: match mode {
                AuthMode::Open => None,
                AuthMode::Token { secret } => Some(DecodingKey::from_secret(secret)),
            },
            validation,
        }
    }

    /// Checks that `token` lets its bearer act as `user_id`.
    pub fn verify(&self, user_id: &str, token: Option<&str>) -> Result<(), (ErrorCode, String)> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        let Some(token) = token else {
            return Err((
                ErrorCode::AuthFailed,
                "this server needs a token: ask its operator (`beckon-server token`)".into(),
            ));
        };
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        (ErrorCode::TokenExpired, "the token has expired".to_string())
                    }
                    ErrorKind::ImmatureSignature => (
                        ErrorCode::AuthFailed,
                        "the token is not valid yet: its `nbf` is in the future".to_string(),
                    ),
                    _ => (
                        ErrorCode::AuthFailed,
                        format!("the token is not valid: {e}"),
                    ),
                }
            })?;
        if data.claims.sub != user_id {
            return Err((
                ErrorCode::TokenUserMismatch,
                format!("the token is for `{}`, not `{user_id}`", data.claims.sub),
            ));
        }
        Ok(())
    }
}

/// Mints a token for `user_id` valid for `ttl`.
pub fn mint(
    secret: &[u8],
    user_id: &str,
    ttl: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        sub: user_id.to_string(),
        iat: now,
        exp: now + ttl.as_secs(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

/// Reads the secret kept beside the database, creating a random one on first use, so
/// `beckon-server token` and the server agree without the operator handling a secret.
pub fn secret_from_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if !text.trim().is_empty() {
            return Ok(text.trim().as_bytes().to_vec());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &hex)?;
    Ok(hex.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_for_their_user_only() {
        let mode = AuthMode::Token {
            secret: b"s3cret".to_vec(),
        };
        let auth = Authenticator::new(&mode);
        let t = mint(b"s3cret", "alice", Duration::from_secs(60)).unwrap();
        assert!(auth.verify("alice", Some(&t)).is_ok());
        assert_eq!(
            auth.verify("bob", Some(&t)).unwrap_err().0,
            ErrorCode::TokenUserMismatch
        );
        assert_eq!(
            auth.verify("alice", None).unwrap_err().0,
            ErrorCode::AuthFailed
        );
        let forged = mint(b"other", "alice", Duration::from_secs(60)).unwrap();
        assert_eq!(
            auth.verify("alice", Some(&forged)).unwrap_err().0,
            ErrorCode::AuthFailed
        );
        assert_eq!(
            auth.verify("alice", Some("x.y.z")).unwrap_err().0,
            ErrorCode::AuthFailed
        );
    }

    #[test]
    fn a_token_is_refused_before_its_nbf() {
        let secret = b"s3cret";
        let auth = Authenticator::new(&AuthMode::Token {
            secret: secret.to_vec(),
        });
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token = |nbf: u64| {
            let claims =
                serde_json::json!({"sub": "alice", "iat": now, "exp": now + 3600, "nbf": nbf});
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(secret),
            )
            .unwrap()
        };
        let (code, message) = auth.verify("alice", Some(&token(now + 600))).unwrap_err();
        assert_eq!(code, ErrorCode::AuthFailed);
        assert!(message.contains("nbf"), "{message}");
        assert!(auth.verify("alice", Some(&token(now - 1))).is_ok());
    }

    #[test]
    fn secret_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        let a = secret_from_file(&p).unwrap();
        let b = secret_from_file(&p).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }
}
