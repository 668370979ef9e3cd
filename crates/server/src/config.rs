use std::path::PathBuf;
use std::time::Duration;

use beckon_protocol::limits::DEFAULT_HEARTBEAT_TIMEOUT_MS;

use crate::auth::AuthMode;
use crate::store::Durability;

/// Everything `run` needs; the binary builds it from flags, tests build it directly.
#[derive(Debug, Clone)]
pub struct Config {
    pub db_path: PathBuf,
    pub durability: Durability,
    pub auth: AuthMode,
    /// Silence longer than this ends a session; a device gone this long counts as gone.
    pub heartbeat_timeout: Duration,
    /// How long an ended call stays in memory for precise answers to late requests.
    pub ended_retention: Duration,
}

impl Config {
    /// Open auth: what tests and local demos want.
    pub fn for_tests(db_path: PathBuf) -> Config {
        Config {
            db_path,
            durability: Durability::Normal,
            auth: AuthMode::Open,
            heartbeat_timeout: Duration::from_millis(DEFAULT_HEARTBEAT_TIMEOUT_MS),
            ended_retention: Duration::from_secs(60),
        }
    }
}
