//! Shared by the client's integration tests: the real server on port 0 (restartable on
//! the same port), a TCP proxy that can cut and refuse connections, and waiting helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon_client::manager::{MachineConfig, Notice, Outcome, Phase, Update};
use beckon_client::{Backoff, CallManager, Client, ClientConfig, Event, Events, Updates};
use beckon_server::Config;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path().join("beckon.db"));
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut server = TestServer {
            addr,
            dir,
            config,
            stop: None,
            task: None,
        };
        server.serve(listener);
        server
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = self.config.clone();
        self.task = Some(tokio::spawn(async move {
            beckon_server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        }));
        self.stop = Some(stop);
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Stops the server (sessions are told `serverShutdown`), keeps it down for `down`,
    /// then starts it again on the same port and data.
    pub async fn restart(&mut self, down: Duration) {
        self.shut_down().await;
        tokio::time::sleep(down).await;
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub async fn shut_down(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

/// A TCP proxy in front of the server: `cut` drops every connection through it, as a
/// network failure would, and `block` refuses new ones until `unblock`.
pub struct Proxy {
    pub addr: SocketAddr,
    blocked: Arc<AtomicBool>,
    frozen: tokio::sync::watch::Sender<bool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let blocked = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (b, l) = (blocked.clone(), links.clone());
        let frozen = tokio::sync::watch::channel(false).0;
        let f = frozen.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if b.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut freeze = f.subscribe();
                let link = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        // Frozen: both sockets stay open and nothing moves, like a dead
                        // route that TCP has not noticed yet.
                        _ = async { drop(freeze.wait_for(|f| *f).await) } => {
                            std::future::pending::<()>().await
                        }
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Proxy {
            addr,
            blocked,
            frozen,
            links,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Drops every open connection and refuses new ones until [`Proxy::unblock`].
    pub fn cut_and_block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.cut();
    }

    pub fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }

    /// Stops forwarding on open connections without closing them, and refuses new ones.
    pub fn freeze(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.frozen.send_replace(true);
    }

    /// Undoes [`Proxy::freeze`] for new connections (frozen ones stay dead).
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
        self.unblock();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Fast reconnects, so tests do not wait on production backoff.
pub fn config(url: &str, user: &str, device: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url, user)
        .user_name(format!("{user} name"))
        .device_id(device);
    c.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
    };
    c
}

pub async fn client(url: &str, user: &str, device: &str) -> (Client, Events) {
    Client::connect(config(url, user, device)).await.unwrap()
}

pub async fn manager(url: &str, user: &str, device: &str) -> (CallManager, Updates) {
    manager_with(url, user, device, MachineConfig::default()).await
}

pub async fn manager_with(
    url: &str,
    user: &str,
    device: &str,
    machine: MachineConfig,
) -> (CallManager, Updates) {
    let (client, events) = client(url, user, device).await;
    let (m, mut updates) = CallManager::with_client(client, events, machine);
    wait_update(&mut updates, "connected", |u| {
        matches!(
            u.snapshot.connection,
            beckon_client::manager::Connection::Connected
        )
    })
    .await;
    (m, updates)
}

/// Skips events until `f` picks one; panics after `WAIT`.
pub async fn wait_event<T>(
    events: &mut Events,
    what: &str,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match events.next_timeout(left).await {
            Some(e) => {
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            None => panic!("no {what} within {WAIT:?}"),
        }
    }
}

/// A throwaway signed-in user whose invitation marks a point in another user's event
/// stream: the server sends it after everything it sent that user before. Each marker has
/// its own user ID. Right after a reconnect one marker is not enough: the client's
/// catch-up may hand out a marker that arrived during its history query before the events
/// it reports from that query, so a second marker, sent once the first is seen, closes it.
pub async fn marker(url: &str) -> Client {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    client(url, &format!("marker{n}"), "marker").await.0
}

/// Rings `user` from `marker` in a normal-mode call; returns the call's ID.
pub async fn send_marker(marker: &Client, user: &str) -> String {
    let invite = beckon_protocol::CallInvite {
        invitees: vec![user.to_string()],
        timeout: Some(60),
        mode: beckon_protocol::CallMode::Normal,
        extended_data: String::new(),
        push_config: None,
    };
    marker.call_invite(invite).await.unwrap().call_id
}

/// Everything reported to `user` before now: its events up to two marker invitations one
/// after the other (see [`marker`]), leaving out those about the markers' calls. Waits for
/// positive events, so it neither passes before the events it is meant to catch have
/// arrived nor depends on how fast the machine is.
pub async fn until_marker(url: &str, events: &mut Events, user: &str) -> Vec<Event> {
    let mut before = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let m = marker(url).await;
        let id = send_marker(&m, user).await;
        ids.push(id.clone());
        wait_event(events, "the marker invitation", |e| match e {
            Event::InvitationReceived(i) if i.call_id == id => Some(()),
            other => {
                before.push(other.clone());
                None
            }
        })
        .await;
        m.shutdown().await;
    }
    let of_marker = |e: &Event| {
        let call_id = match e {
            Event::InvitationReceived(i) => &i.call_id,
            Event::MissedWhileAway(c) => &c.call_id,
            Event::InvitationCancelled(c) => &c.call_id,
            Event::InvitationTimeout(t) => &t.call_id,
            Event::InvitationEnded(e) => &e.call_id,
            Event::UserStateChanged(c) => &c.call_id,
            _ => return false,
        };
        ids.contains(call_id)
    };
    before.retain(|e| !of_marker(e));
    before
}

pub async fn wait_update(
    updates: &mut Updates,
    what: &str,
    mut f: impl FnMut(&Update) -> bool,
) -> Update {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match updates.next_timeout(left).await {
            Some(u) if f(&u) => return u,
            Some(_) => {}
            None => panic!("no update '{what}' within {WAIT:?}"),
        }
    }
}

pub async fn wait_phase(updates: &mut Updates, phase: Phase) -> Update {
    wait_update(updates, &format!("{phase:?}"), |u| {
        u.snapshot.phase == phase
    })
    .await
}

/// The outcome of the next call to finish.
pub async fn outcome(updates: &mut Updates) -> Outcome {
    let u = wait_update(updates, "finished", |u| {
        matches!(u.notice, Notice::Finished { .. })
    })
    .await;
    match u.notice {
        Notice::Finished { outcome, .. } => outcome,
        _ => unreachable!(),
    }
}
