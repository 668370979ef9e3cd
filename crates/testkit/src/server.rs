use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use beckon_server::cluster::ClusterConfig;
use beckon_server::store::Database;
use beckon_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Nodes a [`TestServer`] runs in cluster mode.
pub const CLUSTER_NODES: usize = 3;

/// A real server in this process, on 127.0.0.1 port 0, with its database in a temporary
/// directory, or, with `BECKON_TEST_DB=postgres`, in a fresh database of the test
/// binary's PostgreSQL ([`crate::postgres`]). With `BECKON_TEST_CLUSTER=1` it is three
/// cluster nodes on that PostgreSQL and the binary's NATS ([`crate::nats`]), and each
/// [`url`](Self::url) names the next node, so the clients of a test sit on different
/// nodes. Dropping it leaves the servers' tasks to end with the test's runtime.
pub struct TestServer {
    /// The first node's address.
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    config: Config,
    nodes: Vec<Node>,
    next: AtomicUsize,
}

struct Node {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Whether `BECKON_TEST_CLUSTER` asks the tests to run on a cluster.
pub fn uses_cluster() -> bool {
    match std::env::var("BECKON_TEST_CLUSTER").as_deref() {
        Ok("1") => true,
        Ok("0") | Ok("") | Err(_) => false,
        Ok(other) => panic!("BECKON_TEST_CLUSTER={other}: expected 1 or 0"),
    }
}

impl TestServer {
    /// Open auth and the test configuration ([`Config::for_tests`]).
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(crate::postgres::test_database(dir.path()));
        if uses_cluster() {
            config.cluster = Some(ClusterConfig {
                nats: crate::nats::shared().url(),
            });
        }
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// A server on `config`, owning `dir` (where `config` should keep its database); a
    /// cluster of [`CLUSTER_NODES`] when `config.cluster` is set. Returns once every node
    /// says it is healthy.
    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestServer {
        let count = if config.cluster.is_some() {
            CLUSTER_NODES
        } else {
            1
        };
        let mut server = TestServer {
            addr: ([127, 0, 0, 1], 0).into(),
            dir,
            config,
            nodes: Vec::new(),
            next: AtomicUsize::new(0),
        };
        // The first node alone first: on a cluster it is then the leader, so a test
        // knows which node to stop for a take-over.
        for i in 0..count {
            let listener = beckon_server::listener::bind(([127, 0, 0, 1], 0).into()).unwrap();
            let mut node = Node {
                addr: listener.local_addr().unwrap(),
                stop: None,
                task: None,
            };
            node.serve(listener, &server.config);
            server.nodes.push(node);
            if i == 0 {
                server.wait_healthy().await;
            }
        }
        server.addr = server.nodes[0].addr;
        server.wait_healthy().await;
        server
    }

    /// Three cluster nodes whatever `BECKON_TEST_CLUSTER` says; the first leads.
    pub async fn cluster_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Postgres(crate::postgres::fresh_database());
        let mut config = Config::for_tests(db);
        config.cluster = Some(ClusterConfig {
            nats: crate::nats::shared().url(),
        });
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// Node `i`'s WebSocket endpoint.
    pub fn node_url(&self, i: usize) -> String {
        format!("ws://{}/ws", self.nodes[i].addr)
    }

    /// Stops node `i` gracefully (its sessions are told `serverShutdown`) and waits for
    /// it; the others go on. Stopping the leader makes another node take over.
    pub async fn stop_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(s) = node.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = node.task.take() {
            t.await.unwrap();
        }
    }

    async fn wait_healthy(&self) {
        if self.config.cluster.is_none() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &self.nodes {
            let port = node.addr.port();
            while !tokio::task::spawn_blocking(move || healthy(port))
                .await
                .unwrap()
            {
                assert!(
                    Instant::now() < deadline,
                    "cluster node {port} never healthy"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// The WebSocket endpoint; of each node in turn on a cluster.
    pub fn url(&self) -> String {
        let node = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
        format!("ws://{}/ws", self.nodes[node].addr)
    }

    /// The HTTP base, for `/healthz` and `/metrics` (of the first node on a cluster).
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn db(&self) -> &Database {
        &self.config.db
    }

    /// Stops the server gracefully (sessions are told `serverShutdown`) and waits for it.
    pub async fn shut_down(&mut self) {
        for node in &mut self.nodes {
            if let Some(s) = node.stop.take() {
                let _ = s.send(());
            }
        }
        for node in &mut self.nodes {
            if let Some(t) = node.task.take() {
                t.await.unwrap();
            }
        }
    }

    /// Stops the server, keeps it down for `down`, then starts it again on the same port
    /// and data.
    pub async fn restart(&mut self, down: Duration) {
        self.shut_down().await;
        tokio::time::sleep(down).await;
        for node in &mut self.nodes {
            let listener = beckon_server::listener::bind(node.addr).unwrap();
            node.serve(listener, &self.config);
        }
        self.wait_healthy().await;
    }

    /// Stops the server and hands over its data directory, so a test can start another
    /// server on the same database.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shut_down().await;
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

impl Node {
    fn serve(&mut self, listener: TcpListener, config: &Config) {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = config.clone();
        self.task = Some(tokio::spawn(async move {
            beckon_server::run(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        }));
        self.stop = Some(stop);
    }
}

/// GET /healthz of a server on 127.0.0.1:`port` over plain TCP; true once it answers ok.
/// Blocking.
pub fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    if tcp
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut text = String::new();
    let _ = tcp.read_to_string(&mut text);
    text.starts_with("HTTP/1.1 200") && text.trim_end().ends_with("ok")
}
