//! `Client::ice_config` against the real server, configured by its real flags: the login
//! answer's TURN credentials are used while they have most of their lifetime left, and
//! fresh ones are fetched with `queryIceConfig` when they are about to expire.
mod common;

use std::time::{Duration, Instant};

use beckon_protocol::{IceConfig, IceTransportPolicy};
use beckon_server::cli::Cli;
use clap::Parser;
use common::*;

/// A server started from command-line flags, TURN credentials living `ttl`.
async fn server(ttl: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("beckon.db");
    let cli = Cli::parse_from([
        "beckon-server",
        "--db",
        db.to_str().unwrap(),
        "--stun-uri",
        "stun:127.0.0.1:3478",
        "--turn-uri",
        "turn:127.0.0.1:3478?transport=udp",
        "--turn-secret",
        "client-test-secret",
        "--turn-ttl",
        ttl,
        "--ice-transport-policy",
        "relay",
    ]);
    let config = cli.serve.config().unwrap();
    TestServer::start_in(dir, config).await
}

fn expiry(c: &IceConfig) -> u64 {
    c.expires_at.expect("TURN credentials expire")
}

use beckon_protocol::now_unix_ms as unix_ms;

#[tokio::test]
async fn credentials_about_to_expire_are_replaced_by_fresh_ones() {
    // A minute's credentials are always within the minimum refresh margin of expiring.
    let s = server("1m").await;
    let (m, _updates) = manager(&s.url(), "alice", "alice-1").await;
    let first = m.ice_config().await.unwrap();
    assert_eq!(first.ice_transport_policy, IceTransportPolicy::Relay);
    assert_eq!(first.ice_servers.len(), 2);
    let deadline = Instant::now() + WAIT;
    loop {
        let next = m.ice_config().await.unwrap();
        assert!(expiry(&next) >= expiry(&first));
        if expiry(&next) > expiry(&first) {
            let username = next.ice_servers[1].username.clone().unwrap();
            assert!(username.ends_with(":alice"), "{username}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fresh credentials within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn credentials_with_most_of_their_lifetime_left_are_the_login_answers() {
    let ttl = Duration::from_secs(12 * 3600);
    let s = server("12h").await;
    let (alice, _events) = client(&s.url(), "alice", "alice-1").await;
    let held = alice.ice_config().await.unwrap();
    // Wait until the server would mint a later expiry (the next whole second)...
    let minted_at = expiry(&held) - ttl.as_millis() as u64;
    let deadline = Instant::now() + WAIT;
    while unix_ms() < minted_at + 1000 {
        assert!(Instant::now() < deadline, "the clock did not move on");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...which a new login shows it does, while the first client keeps what it has.
    let (other, _other_events) = client(&s.url(), "alice", "alice-2").await;
    let fresh = other.ice_config().await.unwrap();
    assert!(expiry(&fresh) > expiry(&held));
    assert_eq!(alice.ice_config().await.unwrap(), held);
}
