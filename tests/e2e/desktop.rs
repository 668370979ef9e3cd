//! The desktop the apps run on, private to one test run: an X display (Xvfb picks a free
//! number itself), a D-Bus session bus (what `dbus-run-session` gives a command), a
//! notification daemon (dunst) on that bus, and dbus-monitor recording every
//! `Notify` and `CloseNotification` call, so a test can assert which notifications the
//! apps sent and withdrew.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::Proc;

/// One `org.freedesktop.Notifications.Notify` call seen on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub app: String,
    pub summary: String,
    pub body: String,
    /// Action keys and labels, in pairs, as sent.
    pub actions: Vec<String>,
}

pub struct Desktop {
    pub display: String,
    pub bus: String,
    transcript: Arc<Mutex<String>>,
    // Dropped in reverse order of start: monitor and daemon before the bus and display.
    _monitor: Proc,
    _dunst: Proc,
    _bus: Proc,
    _xvfb: Proc,
}

impl Desktop {
    pub fn start(logs: &Path) -> Result<Desktop> {
        for tool in [
            "Xvfb",
            "dbus-daemon",
            "dbus-monitor",
            "dunst",
            "import",
            "xdotool",
        ] {
            which(tool).with_context(|| {
                format!("{tool} is missing: scripts/test installs the desktop packages")
            })?;
        }
        let mut xvfb = Proc::spawn(
            "Xvfb",
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(log_file(logs, "xvfb.log")?),
        )?;
        let display = format!(":{}", first_line(&mut xvfb, "Xvfb")?);

        let mut bus = Proc::spawn(
            "dbus-daemon",
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(log_file(logs, "dbus.log")?),
        )?;
        let bus_address = first_line(&mut bus, "dbus-daemon")?;

        let dunst = Proc::spawn(
            "dunst",
            Command::new("dunst")
                .env("DISPLAY", &display)
                .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
                .stdout(Stdio::null())
                .stderr(log_file(logs, "dunst.log")?),
        )?;

        let mut monitor = Proc::spawn(
            "dbus-monitor",
            Command::new("dbus-monitor")
                .args([
                    "--address",
                    &bus_address,
                    "interface='org.freedesktop.Notifications',member='Notify'",
                    "interface='org.freedesktop.Notifications',member='CloseNotification'",
                ])
                .stdout(Stdio::piped())
                .stderr(log_file(logs, "dbus-monitor.log")?),
        )?;
        let transcript = Arc::new(Mutex::new(String::new()));
        let mut out = BufReader::new(
            monitor
                .child()
                .stdout
                .take()
                .context("dbus-monitor has no stdout")?,
        );
        // dbus-monitor says it has become a monitor (NameAcquired/NameLost) before it
        // sees anything: wait for that, so no notification can slip past it.
        let mut first = String::new();
        out.read_line(&mut first)
            .context("dbus-monitor did not start")?;
        let sink = transcript.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });

        Ok(Desktop {
            display,
            bus: bus_address,
            transcript,
            _monitor: monitor,
            _dunst: dunst,
            _bus: bus,
            _xvfb: xvfb,
        })
    }

    /// Every notification sent on this desktop so far, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        parse_notifications(&self.transcript.lock().unwrap())
    }

    /// How many notifications the apps have withdrawn so far.
    pub fn withdrawn(&self) -> usize {
        self.transcript
            .lock()
            .unwrap()
            .split("method call ")
            .filter(|block| {
                block
                    .lines()
                    .next()
                    .is_some_and(|h| h.contains("member=CloseNotification"))
            })
            .count()
    }

    /// Waits until more than `seen` notifications have been withdrawn.
    pub async fn wait_withdrawn(&self, seen: usize, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while self.withdrawn() <= seen {
            if Instant::now() > deadline {
                bail!("no notification was withdrawn within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Waits for a notification whose summary is `summary`, sent after `seen` earlier ones.
    pub async fn wait_notification(
        &self,
        seen: usize,
        summary: &str,
        within: Duration,
    ) -> Result<Notification> {
        let deadline = Instant::now() + within;
        loop {
            let all = self.notifications();
            if let Some(n) = all.iter().skip(seen).find(|n| n.summary == summary) {
                return Ok(n.clone());
            }
            if Instant::now() > deadline {
                bail!("no notification {summary:?} within {within:?}; sent so far: {all:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a window whose title (what the task bar and window switcher show) matches
    /// `pattern`, a regular expression as xdotool takes it.
    pub async fn wait_window_titled(&self, pattern: &str, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let found = Command::new("xdotool")
                .args(["search", "--name", pattern])
                .env("DISPLAY", &self.display)
                .stderr(Stdio::null())
                .output()
                .context("cannot run xdotool")?;
            if found.status.success() && !found.stdout.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("no window titled {pattern:?} within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A picture of the whole screen: windows as the user sees them, stacked.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let status = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .context("cannot run imagemagick's import")?;
        if !status.success() {
            bail!("import failed ({status}) for {}", path.display());
        }
        Ok(())
    }
}

/// dbus-monitor prints a method call as a header line then one line per argument; Notify's
/// first four strings are app name, icon, summary and body.
fn parse_notifications(transcript: &str) -> Vec<Notification> {
    transcript
        .split("method call ")
        .filter(|block| {
            block
                .lines()
                .next()
                .is_some_and(|h| h.contains("member=Notify"))
        })
        .filter_map(|block| {
            let string = |l: &str| {
                l.trim()
                    .strip_prefix("string \"")
                    .map(|s| s.strip_suffix('"').unwrap_or(s).to_owned())
            };
            // Arguments are indented three spaces, what they contain further.
            let args: Vec<&str> = block.lines().skip(1).collect();
            let top: Vec<String> = args
                .iter()
                .filter(|l| l.starts_with("   ") && !l.starts_with("    "))
                .filter_map(|l| string(l))
                .collect();
            // The first array is the actions; the second, the hints.
            let actions = args
                .iter()
                .skip_while(|l| l.trim_end() != "   array [")
                .skip(1)
                .take_while(|l| l.trim_end() != "   ]")
                .filter_map(|l| string(l))
                .collect();
            match top.as_slice() {
                [app, _icon, summary, body, ..] => Some(Notification {
                    app: app.clone(),
                    summary: summary.clone(),
                    body: body.clone(),
                    actions,
                }),
                _ => None,
            }
        })
        .collect()
}

fn first_line(proc: &mut Proc, name: &str) -> Result<String> {
    let stdout = proc
        .child()
        .stdout
        .take()
        .with_context(|| format!("{name} has no stdout"))?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .with_context(|| format!("cannot read {name}'s output"))?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        proc.check_running()?;
        bail!("{name} printed nothing");
    }
    // Keep draining, so the process never blocks on a full pipe.
    std::thread::spawn(move || {
        let _ = reader.read_to_end(&mut Vec::new());
    });
    Ok(line)
}

pub fn log_file(dir: &Path, name: &str) -> Result<std::fs::File> {
    let path = dir.join(name);
    std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))
}

pub fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}
