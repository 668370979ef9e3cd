use std::time::Duration;

use beckon_protocol::limits::{DEFAULT_HEARTBEAT_TIMEOUT_MS, HEARTBEATS_PER_TIMEOUT};
use beckon_protocol::LoginResult;

/// Who to sign in as, where, and how patiently to stay connected.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://host:port/ws`.
    pub url: String,
    pub user_id: String,
    /// Shown to the people this user calls.
    pub user_name: String,
    /// Signed token from `beckon-server token`; `None` for a server in open (dev) mode.
    pub token: Option<String>,
    /// Stable per installation. `None` lets the server pick one on the first login; the
    /// client then reuses it on every reconnect, because only the same device ID lets a
    /// call this device started survive a short disconnect.
    pub device_id: Option<String>,
    /// How long a request waits for its answer before failing with a timeout.
    pub request_timeout: Duration,
    /// Limit on one TCP connect plus WebSocket handshake.
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    /// Events buffered for the application before the client stops reading the socket.
    pub event_buffer: usize,
    /// When this user was last known online here (Unix ms, server clock). Calls settled
    /// since then are reported after the first login as [`Event::MissedWhileAway`], as
    /// after a reconnect: an application that was not running passes the time it last
    /// saw the server, so "you missed a call" survives the app being closed.
    ///
    /// [`Event::MissedWhileAway`]: super::Event::MissedWhileAway
    pub catch_up_since: Option<u64>,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>, user_id: impl Into<String>) -> ClientConfig {
        let user_id = user_id.into();
        ClientConfig {
            url: url.into(),
            user_name: user_id.clone(),
            user_id,
            token: None,
            device_id: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            event_buffer: 256,
            catch_up_since: None,
        }
    }

    pub fn user_name(mut self, name: impl Into<String>) -> Self {
        self.user_name = name.into();
        self
    }

    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    pub fn device_id(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    pub fn catch_up_since(mut self, since: Option<u64>) -> Self {
        self.catch_up_since = since;
        self
    }
}

/// Exponential backoff between reconnect attempts, with full jitter so that a server
/// restart is not met by every client at the same instant.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(15),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (1-based): a random point in the upper half of
    /// `initial * 2^(attempt-1)`, capped at `max`. The lower bound keeps attempts from
    /// bunching up; the randomness spreads a crowd of reconnecting clients.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(16);
        let ceiling = self.initial.saturating_mul(1 << exp).min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// The server's heartbeat rules, as its `login` answer gives them: the client keeps to
/// the server's values rather than its own, or it would give up on calls the server still
/// holds (or hold on to calls the server already ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatTiming {
    /// Send a frame at least this often. A heartbeat unanswered this long means the
    /// connection is dead even if TCP has not noticed.
    pub interval: Duration,
    /// The server ends a silent session after this long, and gives up a device that has
    /// been away this long: its outgoing calls are cancelled, its accepted calls left.
    pub timeout: Duration,
}

/// A server that sends a tiny interval must not make the client send heartbeats in a loop.
const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(200);

impl HeartbeatTiming {
    pub fn from_login(login: &LoginResult) -> HeartbeatTiming {
        Self::from_millis(login.heartbeat_interval_ms, login.heartbeat_timeout_ms)
    }

    fn from_millis(interval_ms: u64, timeout_ms: u64) -> HeartbeatTiming {
        let timeout = Duration::from_millis(timeout_ms).max(MIN_HEARTBEAT_INTERVAL);
        // An interval past the timeout would let the server give up between two beats.
        let interval = Duration::from_millis(interval_ms).clamp(MIN_HEARTBEAT_INTERVAL, timeout);
        HeartbeatTiming { interval, timeout }
    }
}

/// What a server that does not say is assumed to use (the protocol's default).
impl Default for HeartbeatTiming {
    fn default() -> Self {
        Self::from_millis(
            DEFAULT_HEARTBEAT_TIMEOUT_MS / HEARTBEATS_PER_TIMEOUT,
            DEFAULT_HEARTBEAT_TIMEOUT_MS,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(json: &str) -> LoginResult {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn heartbeat_timing_follows_the_servers_login_answer() {
        let long = login(
            r#"{"userId":"a","userName":"A","deviceId":"d","protocolVersion":1,
                "heartbeatIntervalMs":20000,"heartbeatTimeoutMs":60000,"serverTime":1}"#,
        );
        let t = HeartbeatTiming::from_login(&long);
        assert_eq!(t.timeout, Duration::from_secs(60));
        assert_eq!(t.interval, Duration::from_secs(20));
    }

    #[test]
    fn a_server_that_does_not_say_gets_the_protocol_default() {
        let old = login(
            r#"{"userId":"a","userName":"A","deviceId":"d","protocolVersion":1,"serverTime":1}"#,
        );
        let t = HeartbeatTiming::from_login(&old);
        assert_eq!(t, HeartbeatTiming::default());
        assert_eq!(
            t.timeout,
            Duration::from_millis(DEFAULT_HEARTBEAT_TIMEOUT_MS)
        );
        assert_eq!(t.interval * HEARTBEATS_PER_TIMEOUT as u32, t.timeout);
    }

    #[test]
    fn nonsense_heartbeat_timing_is_kept_in_bounds() {
        let t = HeartbeatTiming::from_millis(0, 0);
        assert_eq!(
            (t.interval, t.timeout),
            (MIN_HEARTBEAT_INTERVAL, MIN_HEARTBEAT_INTERVAL)
        );
        let t = HeartbeatTiming::from_millis(90_000, 60_000);
        assert_eq!(t.interval, t.timeout);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..50 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d4 = b.delay(4);
            assert!(d4 >= Duration::from_millis(400) && d4 <= Duration::from_millis(800));
            let d30 = b.delay(30);
            assert!(d30 >= Duration::from_secs(1) && d30 <= Duration::from_secs(2));
        }
    }
}
