//! The ICE servers each client gets, with TURN credentials in coturn's REST form
//! (`use-auth-secret`): coturn and this server share a secret, so coturn can check a
//! credential this server minted without either keeping a list of users. The username
//! carries its own expiry, which is why a leaked credential stops working by itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use beckon_protocol::{IceConfig, IceServer, IceTransportPolicy};
use hmac::{Hmac, Mac};

/// coturn's `static-auth-secret`. Kept out of `Debug`, so no log line can show it.
#[derive(Clone)]
pub struct TurnSecret(Vec<u8>);

impl TurnSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> TurnSecret {
        TurnSecret(secret.into())
    }
}

impl std::fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnSecret(<hidden>)")
    }
}

/// TURN servers and how their credentials are minted. A TURN URI always comes with its
/// secret (the flags refuse one without the other).
#[derive(Debug, Clone)]
pub struct Turn {
    pub uris: Vec<String>,
    pub secret: TurnSecret,
    /// How long a minted credential works.
    pub ttl: Duration,
}

/// What the operator configured; [`IceSettings::config_for`] turns it into one user's
/// [`IceConfig`]. The default is no servers at all: clients then connect directly or not.
#[derive(Debug, Clone, Default)]
pub struct IceSettings {
    pub stun_uris: Vec<String>,
    pub turn: Option<Turn>,
    pub policy: IceTransportPolicy,
}

impl IceSettings {
    /// The configuration for `user_id`, with TURN credentials fresh as of `now`.
    pub fn config_for(&self, user_id: &str, now: SystemTime) -> IceConfig {
        let mut ice_servers = Vec::new();
        if !self.stun_uris.is_empty() {
            ice_servers.push(IceServer {
                urls: self.stun_uris.clone(),
                username: None,
                credential: None,
            });
        }
        let mut expires_at = None;
        if let Some(turn) = &self.turn {
            let expiry = expiry_secs(now, turn.ttl);
            let (username, credential) = credentials(&turn.secret, user_id, expiry);
            ice_servers.push(IceServer {
                urls: turn.uris.clone(),
                username: Some(username),
                credential: Some(credential),
            });
            // coturn accepts the username through this whole second.
            expires_at = Some(expiry.saturating_mul(1000));
        }
        IceConfig {
            ice_servers,
            ice_transport_policy: self.policy,
            expires_at,
        }
    }
}

/// The Unix second at which a credential minted at `now` expires.
fn expiry_secs(now: SystemTime, ttl: Duration) -> u64 {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    now.saturating_add(ttl.as_secs())
}

/// coturn's REST credentials: username `<expiry unix seconds>:<userId>`, password
/// base64(HMAC-SHA1(secret, username)).
pub fn credentials(secret: &TurnSecret, user_id: &str, expiry_unix_secs: u64) -> (String, String) {
    let username = format!("{expiry_unix_secs}:{user_id}");
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&secret.0)
        .expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HMAC-SHA1 written out from RFC 2104 and FIPS 180-1, sharing no code with the
    /// crates the server uses, so a mistake in how they are called cannot hide.
    fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
        fn sha1(data: &[u8]) -> [u8; 20] {
            let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
            let mut m = data.to_vec();
            let bits = (data.len() as u64) * 8;
            m.push(0x80);
            while m.len() % 64 != 56 {
                m.push(0);
            }
            m.extend_from_slice(&bits.to_be_bytes());
            for block in m.chunks(64) {
                let mut w = [0u32; 80];
                for i in 0..16 {
                    w[i] = u32::from_be_bytes([
                        block[4 * i],
                        block[4 * i + 1],
                        block[4 * i + 2],
                        block[4 * i + 3],
                    ]);
                }
                for i in 16..80 {
                    w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
                }
                let [mut a, mut b, mut c, mut d, mut e] = h;
                for (i, wi) in w.iter().enumerate() {
                    let (f, k) = match i {
                        0..=19 => ((b & c) | (!b & d), 0x5A827999),
                        20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                        40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                        _ => (b ^ c ^ d, 0xCA62C1D6),
                    };
                    let t = a
                        .rotate_left(5)
                        .wrapping_add(f)
                        .wrapping_add(e)
                        .wrapping_add(k)
                        .wrapping_add(*wi);
                    (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
                }
                for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
                    *hi = hi.wrapping_add(v);
                }
            }
            let mut out = [0u8; 20];
            for (i, v) in h.iter().enumerate() {
                out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
            }
            out
        }
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..20].copy_from_slice(&sha1(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let inner: Vec<u8> = k
            .iter()
            .map(|b| b ^ 0x36)
            .chain(msg.iter().copied())
            .collect();
        let outer: Vec<u8> = k
            .iter()
            .map(|b| b ^ 0x5c)
            .chain(sha1(&inner).iter().copied())
            .collect();
        sha1(&outer)
    }

    #[test]
    fn the_reference_hmac_is_right() {
        // RFC 2202, test case 2.
        let mac = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn credentials_are_coturns_rest_form() {
        let secret = TurnSecret::new("north-wind-42");
        let (username, password) = credentials(&secret, "alice", 1_767_225_600);
        assert_eq!(username, "1767225600:alice");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&password)
            .unwrap();
        assert_eq!(bytes, hmac_sha1(b"north-wind-42", b"1767225600:alice"));
        // Another secret, user or expiry: another password.
        assert_ne!(
            credentials(&TurnSecret::new("x"), "alice", 1_767_225_600).1,
            password
        );
        assert_ne!(credentials(&secret, "bob", 1_767_225_600).1, password);
        assert_ne!(credentials(&secret, "alice", 1_767_225_601).1, password);
    }

    #[test]
    fn the_config_names_the_user_and_expires_after_the_ttl() {
        let settings = IceSettings {
            stun_uris: vec!["stun:t.example:3478".into()],
            turn: Some(Turn {
                uris: vec![
                    "turn:t.example:3478?transport=udp".into(),
                    "turn:t.example:3478?transport=tcp".into(),
                ],
                secret: TurnSecret::new("s"),
                ttl: Duration::from_secs(3600),
            }),
            policy: IceTransportPolicy::Relay,
        };
        let now = UNIX_EPOCH + Duration::from_millis(1_000_000_500);
        let c = settings.config_for("bob", now);
        assert_eq!(c.ice_transport_policy, IceTransportPolicy::Relay);
        assert_eq!(c.expires_at, Some((1_000_000 + 3600) * 1000));
        assert_eq!(c.ice_servers.len(), 2);
        assert_eq!(c.ice_servers[0].urls, settings.stun_uris);
        assert_eq!(c.ice_servers[0].username, None);
        let turn = &c.ice_servers[1];
        assert_eq!(turn.urls.len(), 2);
        assert_eq!(turn.username.as_deref(), Some("1003600:bob"));
        let expected =
            base64::engine::general_purpose::STANDARD.encode(hmac_sha1(b"s", b"1003600:bob"));
        assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn no_servers_means_no_expiry() {
        let c = IceSettings::default().config_for("bob", SystemTime::now());
        assert_eq!(c, IceConfig::default());
        let stun_only = IceSettings {
            stun_uris: vec!["stun:t.example".into()],
            ..IceSettings::default()
        };
        assert_eq!(
            stun_only.config_for("bob", SystemTime::now()).expires_at,
            None
        );
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let t = Turn {
            uris: vec![],
            secret: TurnSecret::new("hunter2"),
            ttl: Duration::from_secs(60),
        };
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
