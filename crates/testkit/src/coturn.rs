//! A real coturn (`turnserver`, Debian package `coturn`) on 127.0.0.1, configured the way
//! README tells operators to (REST credentials from a shared secret), in its own temp dir.
//! It is what the TURN tests of the server and the media tests of the app relay through.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long turnserver gets to start listening (it takes about 20 ms).
const START_WAIT: Duration = Duration::from_secs(10);
/// How long a log line gets to appear.
const LOG_WAIT: Duration = Duration::from_secs(10);
/// Relay ports above the listening port: every peer connection of a test run allocates
/// some, and coturn frees them only when the browser deallocates or they time out.
const RELAY_PORTS: u16 = 400;

/// The binary when installed, `None` outside CI when it is not (the caller skips, saying
/// so). CI installs coturn (scripts/test, `need_media`), so there a missing one panics.
pub fn binary(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!("{name} is missing, but CI installs coturn (scripts/test, need_media)");
    }
    found
}

/// turnserver, stopped (SIGKILL) when dropped.
pub struct Coturn {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts `turnserver` with `secret` as its `static-auth-secret`.
    pub fn start(turnserver: &Path, secret: &str) -> Coturn {
        let dir = tempfile::tempdir().expect("a temp dir for coturn");
        let port = free_udp_and_tcp_port();
        let d = dir.path().display();
        // allow-loopback-peers: the peer of a relayed call is the other side's relay
        // address, 127.0.0.1 here; coturn refuses that without it, and refuses it with
        // the CLI on unless the CLI has a password, hence no-cli.
        let config = format!(
            "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\n\
             min-port={}\nmax-port={}\nrealm=test.local\nuse-auth-secret\n\
             static-auth-secret={secret}\nno-tls\nno-dtls\nno-cli\nallow-loopback-peers\n\
             fingerprint\nverbose\nlog-file={d}/turn.log\nsimple-log\n\
             pidfile={d}/turn.pid\nuserdb={d}/turndb\n",
            port + 2,
            port + RELAY_PORTS,
        );
        let conf = dir.path().join("turnserver.conf");
        std::fs::write(&conf, config).expect("coturn's config file");
        let child = Command::new(turnserver)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver starts");
        let mut coturn = Coturn { child, port, dir };
        let deadline = Instant::now() + START_WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = coturn.child.try_wait() {
                panic!("turnserver exited with {status}: {}", coturn.log());
            }
            assert!(
                Instant::now() < deadline,
                "turnserver not listening within {START_WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        coturn
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URI clients are given, over UDP.
    pub fn uri(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("turn.log")).unwrap_or_default()
    }

    /// Waits until turnserver's log has a line containing `needle`.
    pub fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + LOG_WAIT;
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

/// A port free on 127.0.0.1 for both UDP and TCP, low enough to leave room for relays.
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = tcp.local_addr().expect("its address").port();
        drop(tcp);
        if port < 65_000 - RELAY_PORTS && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
