use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
