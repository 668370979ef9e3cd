//! What a client needs to open its peer connections: the ICE servers (STUN, and TURN with
//! short-lived credentials) and whether to use relays only. Shaped exactly like the
//! browser's `RTCConfiguration`, so a web client passes it on without translating.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

/// One STUN or TURN server, as the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IceServer {
    /// `stun:host:port` or `turn:host:port?transport=udp`; one server may have several.
    pub urls: Vec<String>,
    /// TURN only: `<expiry unix seconds>:<userId>` (coturn's `use-auth-secret` form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub username: Option<String>,
    /// TURN only: base64 of HMAC-SHA1(server secret, username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub credential: Option<String>,
}

/// Which candidates a peer connection may use, as the browser's `iceTransportPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum IceTransportPolicy {
    /// Direct paths when they work, relays when they do not.
    #[default]
    All,
    /// Relays only: the other side never learns this user's IP address, at the cost of
    /// the relay's bandwidth and a little latency.
    Relay,
}

/// The ICE configuration for the logged-in user, in the `login` answer and the answer to
/// `queryIceConfig`. The defaults (no servers, `all`, no expiry) are what a server that
/// sends none means.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IceConfig {
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    #[serde(default)]
    pub ice_transport_policy: IceTransportPolicy,
    /// When the TURN credentials stop working; `None` when there are none. Ask again
    /// (`queryIceConfig`) before then: a call set up after it cannot use the relays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number"))]
    pub expires_at: Option<UnixMillis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_is_the_browsers() {
        let c = IceConfig {
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:s.example:3478".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec!["turn:s.example:3478?transport=udp".into()],
                    username: Some("100:alice".into()),
                    credential: Some("c2VjcmV0".into()),
                },
            ],
            ice_transport_policy: IceTransportPolicy::Relay,
            expires_at: Some(100_000),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "iceServers": [
                    {"urls": ["stun:s.example:3478"]},
                    {"urls": ["turn:s.example:3478?transport=udp"],
                     "username": "100:alice", "credential": "c2VjcmV0"}
                ],
                "iceTransportPolicy": "relay",
                "expiresAt": 100000
            })
        );
        assert_eq!(serde_json::from_value::<IceConfig>(v).unwrap(), c);
        let none = serde_json::to_value(IceConfig::default()).unwrap();
        assert_eq!(
            none,
            serde_json::json!({"iceServers": [], "iceTransportPolicy": "all"})
        );
    }
}
