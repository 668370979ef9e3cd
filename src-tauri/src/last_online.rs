//! When this installation last saw the server, per user, kept in the config directory. At
//! the next start the call manager catches up from then, so calls missed while the app was
//! not running are told (a notification, a toast) like calls missed while offline.
//!
//! It is written every [`EVERY`] while connected, so after a crash the catch-up may repeat
//! at most that much of what was already told; a clean quit writes it last.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const FILE: &str = "last-online.json";
pub const EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Stored {
    user_id: String,
    /// Unix ms, this machine's clock.
    at: u64,
}

/// The last time `user_id` was online here; `None` for another user, or a missing or
/// damaged file (nothing to catch up on is the safe reading).
pub fn read(dir: &Path, user_id: &str) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    let stored: Stored = serde_json::from_str(&text).ok()?;
    (stored.user_id == user_id).then_some(stored.at)
}

/// Records that `user_id` is online now. Failures are logged only: at worst the next start
/// catches up from an older time, or not at all.
pub fn write(dir: &Path, user_id: &str) {
    let stored = Stored {
        user_id: user_id.to_owned(),
        at: now_ms(),
    };
    let tmp = dir.join(format!("{FILE}.tmp"));
    let written = serde_json::to_string(&stored)
        .map_err(std::io::Error::other)
        .and_then(|text| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, dir.join(FILE)));
    if let Err(e) = written {
        tracing::info!(error = %e, "cannot record when this user was last online");
    }
}

use beckon_protocol::now_unix_ms as now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_user_and_damage_reads_as_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), "alice"), None);
        let before = now_ms();
        write(dir.path(), "alice");
        let at = read(dir.path(), "alice").unwrap();
        assert!(at >= before && at <= now_ms());
        assert_eq!(read(dir.path(), "bob"), None);
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        assert_eq!(read(dir.path(), "alice"), None);
    }
}
