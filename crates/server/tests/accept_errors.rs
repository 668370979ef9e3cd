//! A server out of file descriptors: `accept` fails with EMFILE, which is logged and
//! counted, and the server serves again once descriptors are free. This file is its own
//! process because it lowers the process-wide open-file limit.
#![cfg(target_os = "linux")]
mod common;

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon_protocol::CallMode;
use common::*;
use rlimit::Resource;

/// Descriptors left free under the lowered limit: the connections the test opens.
const HEADROOM: u64 = 32;
/// Longer than [`WAIT`], as the accept loop's backoff grows to a second while it fails;
/// shorter than the client's own 10 s connect timeout, so a failure names the cause.
const RECOVER: Duration = Duration::from_secs(8);

/// The log, as the server writes it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn open_fds() -> u64 {
    // The directory's own descriptor is in the listing.
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64 - 1
}

/// `beckon_accept_errors_total` in a Prometheus text page; 0 before the first error.
fn accept_errors(page: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix("beckon_accept_errors_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// The runtime has one thread (`#[tokio::test]`'s default), so the server accepts nothing
/// while the test connects without awaiting: every connection completes its handshake in
/// the kernel and waits in the listen backlog, and the server's first `accept` after that
/// finds the descriptor table full.
#[tokio::test]
async fn emfile_on_accept_is_logged_counted_and_survived() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let s = TestServer::start().await;
    // A login first, so whatever the server opens lazily (database readers) is open.
    let alice = s.user("alice").await;
    assert_eq!(accept_errors(&beckon_server::metrics::render()), 0);

    let (soft, hard) = Resource::NOFILE.get().unwrap();
    let limit = open_fds() + HEADROOM;
    assert!(limit <= soft, "the limit is already below {limit}");
    Resource::NOFILE.set(limit, hard).unwrap();

    // Fill the table with our ends of the connections; the server's ends are still to come.
    let mut held = Vec::new();
    let free = limit - open_fds();
    for _ in 0..free {
        match TcpStream::connect(s.addr) {
            Ok(c) => held.push(c),
            // Something else in the process took a descriptor: the table is full already.
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("connect: {e}"),
        }
    }
    assert!(held.len() >= 2, "only {} connections opened", held.len());

    let deadline = tokio::time::Instant::now() + WAIT;
    while accept_errors(&beckon_server::metrics::render()) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no accept error counted within {WAIT:?} ({} connections waiting)",
            held.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logged = log.text();
    let line = logged
        .lines()
        .find(|l| l.contains("cannot accept connections"))
        .unwrap_or_else(|| panic!("accept error not logged:\n{logged}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("os error 24"), "not EMFILE: {line}");

    drop(held);
    let mut carol = tokio::time::timeout(RECOVER, s.user("carol"))
        .await
        .unwrap_or_else(|_| panic!("no login within {RECOVER:?} after descriptors were freed"));
    alice.invite(&["carol"], CallMode::Advanced, 60).await;
    carol.received().await;
    let (status, page) = http_get(&s.http(), "/metrics").await;
    assert!(status.contains("200"), "{status}");
    assert!(accept_errors(&page) >= 1, "{page}");
    Resource::NOFILE.set(soft, hard).unwrap();
}
