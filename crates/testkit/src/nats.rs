//! A throwaway NATS server for cluster tests: `nats-server` on a free port of 127.0.0.1,
//! shared by a test binary ([`shared`]) or owned by one test that restarts it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct NatsServer {
    port: u16,
    child: Mutex<Option<Child>>,
}

static SHARED: OnceLock<NatsServer> = OnceLock::new();

/// The test binary's NATS, started on first use, killed when the binary exits.
pub fn shared() -> &'static NatsServer {
    SHARED.get_or_init(|| {
        let server = NatsServer::start();
        // SAFETY: registers a plain function with no arguments, as atexit requires.
        unsafe { libc::atexit(stop_shared_at_exit) };
        server
    })
}

extern "C" fn stop_shared_at_exit() {
    if let Some(server) = SHARED.get() {
        server.stop();
    }
}

/// `nats-server` from PATH or where Debian's package puts it.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
}

impl NatsServer {
    /// Starts one and waits until it accepts connections. Panics, saying what to install,
    /// where there is none.
    pub fn start() -> NatsServer {
        let server = NatsServer {
            port: crate::free_port(),
            child: Mutex::new(None),
        };
        server.start_again();
        server
    }

    /// Starts the server again on its port, after [`stop`](Self::stop).
    pub fn start_again(&self) {
        let bin = binary().unwrap_or_else(|| {
            panic!("nats-server was not found: install the `nats-server` package (scripts/lib.sh need_nats)")
        });
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (every client loses its connection at once) and waits for it.
    pub fn stop(&self) {
        let child = self.child.lock().ok().and_then(|mut c| c.take());
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
