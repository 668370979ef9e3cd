//! A real coturn (`turnserver`, Debian package `coturn`) accepts the TURN credentials this
//! server mints, and refuses ones minted with another secret. `turnutils_uclient`, from the
//! same package, allocates a relay with them and sends messages through it.
//!
//! CI installs coturn (scripts/test, `need_media`), so there a missing binary fails the
//! test; elsewhere it is skipped with a line saying so.
mod common;

use beckon_client::Requests;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use beckon_protocol::IceTransportPolicy;
use beckon_server::ice::{IceSettings, Turn, TurnSecret};
use beckon_testkit::coturn::{self, Coturn};
use common::*;

const SECRET: &str = "coturn-test-secret";
/// The client relays this many messages per connection; it makes 4 connections.
const MESSAGES: usize = 5;
/// A relay allocation and its messages took about 5 s on a 2-core machine.
const CLIENT_WAIT: Duration = Duration::from_secs(30);

/// Both binaries, or `None` when coturn is missing outside CI (a skip, said out loud).
fn coturn_binaries() -> Option<(PathBuf, PathBuf)> {
    match (
        coturn::binary("turnserver"),
        coturn::binary("turnutils_uclient"),
    ) {
        (Some(server), Some(client)) => Some((server, client)),
        _ => {
            // Past the test harness's capture, so a plain `cargo test` shows it.
            let _ = writeln!(
                std::io::stderr(),
                "coturn test skipped: turnserver or turnutils_uclient is not installed \
                 (apt-get install coturn)"
            );
            None
        }
    }
}

/// Runs turnutils_uclient against `port` with these credentials: its exit status and output.
fn relay_through(uclient: &Path, port: u16, user: &str, password: &str) -> (bool, String) {
    let out_path = tempfile::NamedTempFile::new().unwrap();
    let out = out_path.reopen().unwrap();
    let mut child = Command::new(uclient)
        .args(["-y", "-n", &MESSAGES.to_string(), "-m", "1", "-l", "170"])
        .args([
            "-u",
            user,
            "-w",
            password,
            "-p",
            &port.to_string(),
            "127.0.0.1",
        ])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + CLIENT_WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("turnutils_uclient still running after {CLIENT_WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(out_path.path()).unwrap_or_default();
    (status.success(), output)
}

/// Logs `user` in to a beckon server whose TURN secret is `secret` and returns the TURN
/// username and password of its login answer.
async fn minted(secret: &str, coturn_port: u16, user: &str) -> (String, String) {
    let server = TestServer::start_with(|c| {
        c.ice = IceSettings {
            stun_uris: vec![],
            turn: Some(Turn {
                uris: vec![format!("turn:127.0.0.1:{coturn_port}?transport=udp")],
                secret: TurnSecret::new(secret),
                ttl: Duration::from_secs(600),
            }),
            policy: IceTransportPolicy::Relay,
        }
    })
    .await;
    let u = server.user(user).await;
    let ice = u.client.query_ice_config().await.unwrap();
    let turn = &ice.ice_servers[0];
    (
        turn.username.clone().unwrap(),
        turn.credential.clone().unwrap(),
    )
}

#[tokio::test]
async fn coturn_relays_with_the_servers_credentials_and_refuses_another_secret() {
    let Some((turnserver, uclient)) = coturn_binaries() else {
        return;
    };
    let coturn = Coturn::start(&turnserver, SECRET);
    let (user, password) = minted(SECRET, coturn.port(), "alice").await;
    let port = coturn.port();
    let (ok, output) = tokio::task::spawn_blocking({
        let (uclient, user, password) = (uclient.clone(), user.clone(), password.clone());
        move || relay_through(&uclient, port, &user, &password)
    })
    .await
    .unwrap();
    assert!(
        ok,
        "coturn refused the minted credentials:\n{output}\n{}",
        coturn.log()
    );
    let sent = 4 * MESSAGES;
    assert!(
        output.contains(&format!("tot_send_msgs={sent}, tot_recv_msgs={sent}")),
        "not every message came back through the relay:\n{output}"
    );
    coturn.wait_log(&format!(
        "user <{user}>: incoming packet ALLOCATE processed, success"
    ));

    let (wrong_user, wrong_password) = minted("another-secret", coturn.port(), "mallory").await;
    let (ok, output) = tokio::task::spawn_blocking({
        let wrong_user = wrong_user.clone();
        move || relay_through(&uclient, port, &wrong_user, &wrong_password)
    })
    .await
    .unwrap();
    assert!(
        !ok,
        "coturn accepted credentials of another secret:\n{output}"
    );
    coturn.wait_log(&format!(
        "user <{wrong_user}>: incoming packet message processed, error 401"
    ));
}
