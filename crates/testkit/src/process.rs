//! The real `beckon-server` binary as a child process, for what only a process can show:
//! SIGKILL (nothing flushed, no goodbye), SIGTERM, and several nodes that die alone.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One run of the binary on 127.0.0.1:`port`, logging into `log`. Killed (SIGKILL) if
/// dropped.
pub struct ServerProcess {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `bin --listen 127.0.0.1:<port> <args>` on a free port and waits until its
    /// `/healthz` says ok.
    pub async fn start(bin: &str, log: PathBuf, args: &[String]) -> ServerProcess {
        Self::start_on(bin, crate::free_port(), log, args).await
    }

    /// As [`start`](Self::start), on `port`.
    pub async fn start_on(bin: &str, port: u16, log: PathBuf, args: &[String]) -> ServerProcess {
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child: Some(child),
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.as_mut().unwrap().try_wait() {
                panic!("the server exited ({status}):\n{}", server.log_text());
            }
            if tokio::task::spawn_blocking(move || crate::healthy(port))
                .await
                .unwrap()
            {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become healthy:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no goodbye, no flush, nothing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, then wait (bounded) for the process to exit by itself.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not stop on SIGTERM:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
