//! A real coturn (`turnserver`, Debian package `coturn`) accepts the TURN credentials this
//! server mints, and refuses ones minted with another secret. `turnutils_uclient`, from the
//! same package, allocates a relay with them and sends messages through it.
//!
//! CI installs coturn (scripts/test, `need_media`), so there a missing binary fails the
//! test; elsewhere it is skipped with a line saying so.
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beckon_protocol::IceTransportPolicy;
use beckon_server::ice::{IceSettings, Turn, TurnSecret};
use common::*;

const SECRET: &str = "coturn-test-secret";
/// The client relays this many messages per connection; it makes 4 connections.
const MESSAGES: usize = 5;
/// A relay allocation and its messages took about 5 s on a 2-core machine.
const CLIENT_WAIT: Duration = Duration::from_secs(30);

fn binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Both binaries, or `None` when coturn is missing outside CI (a skip, said out loud).
fn coturn_binaries() -> Option<(PathBuf, PathBuf)> {
    match (binary("turnserver"), binary("turnutils_uclient")) {
        (Some(server), Some(client)) => Some((server, client)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("turnserver/turnutils_uclient missing, but CI installs coturn (need_media)")
        }
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

/// A UDP and TCP port on 127.0.0.1 free right now, with the ports above it for relays.
fn free_ports() -> u16 {
    loop {
        let port = free_port("127.0.0.1");
        if port < 60_000 && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// turnserver in its own temp dir, stopped (SIGKILL, by PID) when dropped.
struct Coturn {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Coturn {
    fn start(turnserver: &Path, secret: &str) -> Coturn {
        let dir = tempfile::tempdir().unwrap();
        let port = free_ports();
        let d = dir.path().display();
        let config = format!(
            "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\n\
             min-port={}\nmax-port={}\nrealm=test.local\nuse-auth-secret\n\
             static-auth-secret={secret}\nno-tls\nno-dtls\nno-cli\nallow-loopback-peers\n\
             fingerprint\nverbose\nlog-file={d}/turn.log\nsimple-log\n\
             pidfile={d}/turn.pid\nuserdb={d}/turndb\n",
            port + 2,
            port + 40,
        );
        let conf = dir.path().join("turnserver.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(turnserver)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut coturn = Coturn { child, port, dir };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = coturn.child.try_wait() {
                panic!("turnserver exited with {status}: {}", coturn.log());
            }
            assert!(
                Instant::now() < deadline,
                "turnserver not listening within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        coturn
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("turn.log")).unwrap_or_default()
    }

    /// Waits until turnserver's log has a line containing `needle`.
    fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in turn.log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let (user, password) = minted(SECRET, coturn.port, "alice").await;
    let port = coturn.port;
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

    let (wrong_user, wrong_password) = minted("another-secret", coturn.port, "mallory").await;
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
