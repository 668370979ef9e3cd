//! The server under test: started as a child process, or an already running one given by
//! URL. Either way everything stays on 127.0.0.1.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::logins::Transport;

pub struct Server {
    /// The first (or only) node's.
    pub url: String,
    pub addr: SocketAddr,
    /// The other nodes of a cluster, if several URLs were given.
    others: Vec<(String, SocketAddr)>,
    /// Known when we started the server or were told its pid; needed to read its memory.
    pub pid: Option<u32>,
    /// Beckon answers `/healthz` and `/metrics`; a floor only speaks its protocol.
    http: bool,
    child: Option<Started>,
}

struct Started {
    child: Child,
    log: PathBuf,
    /// Holds the database (and by default the log) until the bench ends.
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server someone else runs. Refuses non-loopback addresses: this bench opens
    /// thousands of connections and must never aim them at another machine.
    /// `urls`: one server, or the nodes of a cluster.
    pub fn existing(urls: &[String], pid: Option<u32>) -> Result<Server> {
        let mut endpoints = urls
            .iter()
            .map(|url| Ok((url.clone(), loopback_addr(url)?)))
            .collect::<Result<Vec<_>>>()?;
        if endpoints.is_empty() {
            bail!("no --url given");
        }
        if endpoints.len() > 1 && pid.is_some() {
            bail!("--server-pid measures one server; leave it out for a cluster");
        }
        let (url, addr) = endpoints.remove(0);
        Ok(Server {
            url,
            addr,
            others: endpoints,
            pid,
            http: true,
            child: None,
        })
    }

    /// Every node's URL and address, the first first.
    pub fn endpoints(&self) -> Vec<(String, SocketAddr)> {
        let mut all = vec![(self.url.clone(), self.addr)];
        all.extend(self.others.iter().cloned());
        all
    }

    /// Starts `bin serve` on a free loopback port with a fresh database and open auth,
    /// and waits until it answers `/healthz`. `one_host` lifts the per-address connection
    /// rate, for runs whose many clients all come from 127.0.0.1.
    pub async fn start(
        bin: &Path,
        one_host: bool,
        extra_args: &[String],
        log: Option<PathBuf>,
        startup: Duration,
    ) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("beckon-bench")
            .tempdir()
            .context("creating a temporary directory")?;
        let db = dir.path().join("bench.db");
        let log = log.unwrap_or_else(|| dir.path().join("server.log"));
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--db")
            .arg(&db)
            .args(["--auth", "open"]);
        if one_host {
            cmd.args(["--connections-per-ip", "0"]);
        }
        cmd.args(extra_args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // Per-connection info logs would cost the server time the bench means to measure;
        // BECKON_LOG (or --server-arg=--log=...) still wins.
        if std::env::var_os("BECKON_LOG").is_none() {
            cmd.env("BECKON_LOG", "warn");
        }
        Server::spawn(
            cmd,
            bin,
            format!("ws://{addr}/ws"),
            addr,
            true,
            (log, dir),
            startup,
        )
        .await
    }

    /// Starts this executable as a floor (`beckon-bench floor`) on a free loopback port,
    /// and waits until it accepts connections.
    pub async fn start_floor(transport: Transport, startup: Duration) -> Result<Server> {
        let bin = std::env::current_exe().context("finding this executable")?;
        let dir = tempfile::Builder::new()
            .prefix("beckon-floor")
            .tempdir()
            .context("creating a temporary directory")?;
        let log = dir.path().join("floor.log");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let (name, url) = match transport {
            Transport::Ws => ("ws", format!("ws://{addr}/ws")),
            Transport::Tcp => ("tcp", format!("tcp://{addr}")),
        };
        let mut cmd = Command::new(&bin);
        cmd.args(["floor", "--transport", name, "--listen"])
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        Server::spawn(cmd, &bin, url, addr, false, (log, dir), startup).await
    }

    async fn spawn(
        mut cmd: Command,
        bin: &Path,
        url: String,
        addr: SocketAddr,
        http: bool,
        (log, dir): (PathBuf, tempfile::TempDir),
        startup: Duration,
    ) -> Result<Server> {
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Server {
            others: Vec::new(),
            url,
            addr,
            pid: Some(child.id()),
            http,
            child: Some(Started {
                child,
                log: log.clone(),
                _dir: dir,
            }),
        };
        if let Err(e) = server.wait_healthy(startup).await {
            server.stop();
            let tail = log_tail(&log);
            bail!("{e:#}\n--- last lines of {} ---\n{tail}", log.display());
        }
        Ok(server)
    }

    async fn wait_healthy(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(started) = &mut self.child {
                if let Some(status) = started.child.try_wait()? {
                    bail!("the server exited during startup ({status})");
                }
            }
            let probe = async {
                if self.http {
                    healthz(self.addr).await
                } else {
                    Ok(TcpStream::connect(self.addr).await.is_ok())
                }
            };
            if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("the server did not answer within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's resident memory in KiB, if we know its pid.
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// A KiB figure from /proc/<pid>/status, e.g. `VmHWM:` (the kernel's peak RSS).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        proc_status_kib(self.pid?, field)
    }

    /// How a server we started ended, if it has; with the last lines of its log.
    pub fn exited(&mut self) -> Option<String> {
        let started = self.child.as_mut()?;
        let status = started.child.try_wait().ok()??;
        Some(format!(
            "{status}\n--- last lines of {} ---\n{}",
            started.log.display(),
            log_tail(&started.log)
        ))
    }

    /// A gauge or counter from the server's `/metrics`, summed over its labels; `None` if
    /// the server does not report it.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        if !self.http {
            return None;
        }
        let text = http_get(self.addr, "/metrics").await.ok()??;
        metric_value(&text, name)
    }

    /// Kills a server we started; a server we were pointed at is left alone.
    pub fn stop(&mut self) {
        if let Some(mut started) = self.child.take() {
            let _ = started.child.kill();
            let _ = started.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A KiB figure such as `VmRSS:` from /proc/<pid>/status.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time `pid` has used so far (user plus system), from `/proc/PID/stat`; `None` for
/// this process itself. The kernel counts it in USER_HZ ticks, 100 a second on Linux.
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or("/proc/self/stat".into(), |pid| format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// `beckon-server` in the same directory as this executable: cargo builds both there.
pub fn default_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let bin = exe.with_file_name(format!("beckon-server{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "{} not found; build it (cargo build --release -p beckon-server) or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}

/// The kernel picks a free port; it is released at once for the server to take. A race
/// with another process is possible but harmless: startup then fails with a clear error.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn loopback_addr(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("ws://")
        .with_context(|| format!("{url}: only ws:// URLs are supported"))?;
    let host_port = rest.split('/').next().unwrap_or_default();
    let addr: SocketAddr = host_port
        .parse()
        .with_context(|| format!("{url}: give the address as ws://127.0.0.1:PORT/ws"))?;
    if !addr.ip().is_loopback() || !addr.is_ipv4() {
        bail!("{url}: the bench only talks to 127.0.0.1");
    }
    Ok(addr)
}

async fn healthz(addr: SocketAddr) -> Result<bool> {
    Ok(http_get(addr, "/healthz").await?.is_some())
}

/// A bare HTTP/1.0 GET: the body if the answer is `200`, without an HTTP client
/// dependency.
async fn http_get(addr: SocketAddr, path: &str) -> Result<Option<String>> {
    let mut tcp = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    tcp.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    tcp.take(4 * 1024 * 1024).read_to_end(&mut reply).await?;
    let reply = String::from_utf8_lossy(&reply);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status_line = head.lines().next().unwrap_or_default();
    let ok = status_line.starts_with("HTTP/1.") && status_line.split(' ').nth(1) == Some("200");
    Ok(ok.then(|| body.to_string()))
}

/// The value of `name` in Prometheus text: one series if `name` has its labels
/// (`beckon_calls{state="started"}`), else the sum over them.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (series == name || metric == name).then(|| value.parse().ok())?
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn metric_values_are_summed_over_labels() {
        let text = "\
# TYPE beckon_pending_timers gauge
beckon_pending_timers 12
beckon_calls{state=\"started\"} 3
beckon_calls{state=\"ended\"} 4
beckon_calls_other 100
";
        assert_eq!(metric_value(text, "beckon_pending_timers"), Some(12.0));
        assert_eq!(metric_value(text, "beckon_calls"), Some(7.0));
        assert_eq!(
            metric_value(text, "beckon_calls{state=\"started\"}"),
            Some(3.0)
        );
        assert_eq!(metric_value(text, "beckon_sessions"), None);
    }

    #[test]
    fn only_loopback_urls_are_accepted() {
        assert!(loopback_addr("ws://127.0.0.1:8080/ws").is_ok());
        assert!(loopback_addr("ws://10.0.0.1:8080/ws").is_err());
        assert!(loopback_addr("ws://example.com:8080/ws").is_err());
        assert!(loopback_addr("wss://127.0.0.1:8080/ws").is_err());
    }

    #[test]
    fn cpu_time_of_this_process_grows_with_work() {
        let start = cpu_secs(None).expect("/proc/self/stat is readable");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut x = 0u64;
        while cpu_secs(None).expect("readable") <= start {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            assert!(
                Instant::now() < deadline,
                "no CPU time counted in 5 s ({x})"
            );
        }
        assert_eq!(cpu_secs(Some(u32::MAX)), None);
    }
}
