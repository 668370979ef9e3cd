//! Shutdown is bounded and complete: whatever clients do, `run` returns within the
//! shutdown deadline, and by then nothing of the server runs any more (no hub, no timer
//! that could write to the database) and only then is the port released.

use beckon_client::Requests;
use std::time::Duration;

use beckon_client::wire::WireClient;
use beckon_protocol::*;
use beckon_server::Config;
use tokio::io::AsyncWriteExt;

/// What the server's own runtime looked like once `run` returned.
struct Stopped {
    ok: bool,
    tasks_alive: usize,
    port_released: bool,
}

#[test]
fn a_half_sent_upgrade_does_not_hold_shutdown_and_nothing_runs_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(beckon_testkit::postgres::test_database(dir.path()));
    // Long enough that only the shutdown deadline can end the half-sent request.
    config.header_read_timeout = Duration::from_secs(600);
    config.shutdown_deadline = Duration::from_secs(2);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (done, result) = std::sync::mpsc::channel();
    // The server gets a runtime of its own, so what is left in it afterwards is its own.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ok = rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            beckon_server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .is_ok()
        });
        let _ = done.send(Stopped {
            ok,
            tasks_alive: rt.metrics().num_alive_tasks(),
            port_released: std::net::TcpStream::connect(addr).is_err(),
        });
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("ws://{addr}/ws");
        let (alice, _a) = WireClient::connect(&url).await.unwrap();
        alice.login("alice", "Alice", None, None).await.unwrap();
        let (bob, _b) = WireClient::connect(&url).await.unwrap();
        bob.login("bob", "Bob", None, None).await.unwrap();
        // A pending invitation: the hub holds a timer that would write `timeout` later.
        let sent = alice
            .call_invite(CallInvite {
                invitees: vec!["bob".into()],
                timeout: Some(3),
                mode: CallMode::Normal,
                extended_data: String::new(),
                push_config: None,
            })
            .await
            .unwrap();
        assert!(!sent.call_id.is_empty());
        let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
            .await
            .unwrap();
        // The server has read it once it answers something after it on a new connection.
        assert_eq!(
            tokio::task::spawn_blocking(move || healthz(addr))
                .await
                .unwrap(),
            Some(true)
        );
        stop.send(()).unwrap();
        let stopped =
            tokio::task::spawn_blocking(move || result.recv_timeout(Duration::from_secs(20)))
                .await
                .unwrap()
                .expect("run() must return within the shutdown deadline, half-sent request or not");
        assert!(stopped.ok);
        assert_eq!(
            stopped.tasks_alive, 0,
            "run() returned with server tasks still running"
        );
        assert!(stopped.port_released);
        drop(half);
    });
}

fn healthz(addr: std::net::SocketAddr) -> Option<bool> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).ok()?;
    Some(text.starts_with("HTTP/1.1 200"))
}
