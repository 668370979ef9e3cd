//! ICE servers over a real connection: the login answer carries them with TURN
//! credentials minted for the logged-in user, `queryIceConfig` mints fresh ones, and a
//! server without TURN hands out none.
mod common;

use beckon_client::Requests;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beckon_protocol::*;
use beckon_server::ice::{credentials, IceSettings, Turn, TurnSecret};
use common::*;
use tokio::time::Instant;

const SECRET: &str = "integration-secret";
const TTL: Duration = Duration::from_secs(3600);

fn settings(policy: IceTransportPolicy) -> IceSettings {
    IceSettings {
        stun_uris: vec!["stun:turn.example.com:3478".into()],
        turn: Some(Turn {
            uris: vec![
                "turn:turn.example.com:3478?transport=udp".into(),
                "turn:turn.example.com:3478?transport=tcp".into(),
            ],
            secret: TurnSecret::new(SECRET),
            ttl: TTL,
        }),
        policy,
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The TURN entry of `config`, checked against what the server's secret gives for `user`.
fn check_turn(config: &IceConfig, user: &str) -> u64 {
    let turn = config
        .ice_servers
        .iter()
        .find(|s| s.urls.iter().all(|u| u.starts_with("turn:")))
        .expect("a TURN server");
    let username = turn.username.as_deref().expect("a TURN username");
    let (expiry, name) = username.split_once(':').expect("`<expiry>:<user>`");
    assert_eq!(name, user);
    let expiry: u64 = expiry.parse().unwrap();
    let (_, expected) = credentials(&TurnSecret::new(SECRET), user, expiry);
    assert_eq!(turn.credential.as_deref(), Some(expected.as_str()));
    assert_eq!(config.expires_at, Some(expiry * 1000));
    expiry
}

#[tokio::test]
async fn the_login_answer_carries_turn_credentials_for_the_user() {
    let s = TestServer::start_with(|c| c.ice = settings(IceTransportPolicy::Relay)).await;
    let (client, _events) = s.connect().await;
    let before = unix_secs();
    let login = client.login("alice", "Alice", None, None).await.unwrap();
    let after = unix_secs();
    let ice = &login.ice;
    assert_eq!(ice.ice_transport_policy, IceTransportPolicy::Relay);
    assert_eq!(ice.ice_servers.len(), 2);
    let stun = &ice.ice_servers[0];
    assert_eq!(stun.urls, ["stun:turn.example.com:3478"]);
    assert_eq!((&stun.username, &stun.credential), (&None, &None));
    assert_eq!(ice.ice_servers[1].urls.len(), 2);
    let expiry = check_turn(ice, "alice");
    assert!(
        (before + TTL.as_secs()..=after + TTL.as_secs()).contains(&expiry),
        "expiry {expiry} is not the login time plus {TTL:?}"
    );
}

#[tokio::test]
async fn query_ice_config_mints_credentials_that_expire_later() {
    let s = TestServer::start_with(|c| c.ice = settings(IceTransportPolicy::All)).await;
    let u = s.user("bob").await;
    let first = u.client.query_ice_config().await.unwrap();
    assert_eq!(first.ice_transport_policy, IceTransportPolicy::All);
    let first_expiry = check_turn(&first, "bob");
    // Credentials name whole seconds: a later one comes once the server's clock has
    // moved on to the next second.
    let deadline = Instant::now() + WAIT;
    loop {
        let again = u.client.query_ice_config().await.unwrap();
        let expiry = check_turn(&again, "bob");
        assert!(expiry >= first_expiry);
        if expiry > first_expiry {
            assert_ne!(
                again.ice_servers[1].credential,
                first.ice_servers[1].credential
            );
            break;
        }
        assert!(Instant::now() < deadline, "no later expiry within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_turn_there_are_no_servers_and_nothing_expires() {
    let s = TestServer::start().await;
    let u = s.user("carol").await;
    let (client, _events) = s.connect().await;
    let login = client.login("dave", "Dave", None, None).await.unwrap();
    assert_eq!(login.ice, IceConfig::default());
    let queried = u.client.query_ice_config().await.unwrap();
    assert!(queried.ice_servers.is_empty());
    assert_eq!(queried.ice_transport_policy, IceTransportPolicy::All);
    assert_eq!(queried.expires_at, None);
}

#[tokio::test]
async fn stun_alone_is_handed_out_without_credentials() {
    let s = TestServer::start_with(|c| {
        c.ice = IceSettings {
            stun_uris: vec!["stun:a.example:3478".into(), "stun:b.example:3478".into()],
            turn: None,
            policy: IceTransportPolicy::All,
        }
    })
    .await;
    let u = s.user("erin").await;
    let ice = u.client.query_ice_config().await.unwrap();
    assert_eq!(ice.ice_servers.len(), 1);
    assert_eq!(ice.ice_servers[0].urls.len(), 2);
    assert_eq!(ice.ice_servers[0].credential, None);
    assert_eq!(ice.expires_at, None);
}

#[tokio::test]
async fn query_ice_config_needs_a_login() {
    let s = TestServer::start_with(|c| c.ice = settings(IceTransportPolicy::All)).await;
    let (client, _events) = s.connect().await;
    assert_eq!(
        code(client.query_ice_config().await),
        ErrorCode::NotLoggedIn
    );
}
