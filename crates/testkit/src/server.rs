use std::net::SocketAddr;
use std::time::Duration;

use beckon_server::store::Database;
use beckon_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A real server in this process, on 127.0.0.1 port 0, with its database in a temporary
/// directory, or, with `BECKON_TEST_DB=postgres`, in a fresh database of the test
/// binary's PostgreSQL ([`crate::postgres`]). Dropping it leaves the server task to end
/// with the test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Open auth and the test configuration ([`Config::for_tests`]).
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(crate::postgres::test_database(dir.path()));
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// A server on `config`, owning `dir` (where `config` should keep its database).
    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestServer {
        let listener = beckon_server::listener::bind(([127, 0, 0, 1], 0).into()).unwrap();
        let mut server = TestServer {
            addr: listener.local_addr().unwrap(),
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

    /// The WebSocket endpoint.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The HTTP base, for `/healthz` and `/metrics`.
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
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    /// Stops the server, keeps it down for `down`, then starts it again on the same port
    /// and data.
    pub async fn restart(&mut self, down: Duration) {
        self.shut_down().await;
        tokio::time::sleep(down).await;
        let listener = beckon_server::listener::bind(self.addr).unwrap();
        self.serve(listener);
    }

    /// Stops the server and hands over its data directory, so a test can start another
    /// server on the same database.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shut_down().await;
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}
