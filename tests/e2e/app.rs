//! One real Beckon app, started and driven by its own tauri-driver (one driver serves one
//! session, so two apps need two drivers), with its own config directory so it is its own
//! user. The helpers wait for what a user would wait for and say what was on screen when
//! it did not come.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::desktop::{log_file, which, Desktop};
use crate::process::Proc;

/// How long the UI gets to show something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct App {
    pub user: &'static str,
    wd: Client,
    main: WindowHandle,
    shots: PathBuf,
    _config: tempfile::TempDir,
    _driver: Proc,
}

pub struct Launch<'a> {
    pub desktop: &'a Desktop,
    pub user: &'static str,
    pub logs: &'a Path,
    pub shots: &'a Path,
    /// Extra environment for the app (tauri-driver passes its own on to the app).
    pub env: &'a [(&'a str, &'a str)],
}

impl App {
    pub async fn launch(l: Launch<'_>) -> Result<App> {
        let driver_bin = tauri_driver()?;
        let config = tempfile::Builder::new()
            .prefix(&format!("beckon-e2e-{}-", l.user))
            .tempdir()?;
        let (port, native_port) = (free_port()?, free_port()?);
        let log = log_file(l.logs, &format!("{}.log", l.user))?;
        let mut cmd = Command::new(driver_bin);
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("DISPLAY", &l.desktop.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &l.desktop.bus)
            .env("BECKON_CONFIG_DIR", config.path())
            .env("BECKON_LOG", "info,beckon_client=debug")
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in l.env {
            cmd.env(k, v);
        }
        let mut driver = Proc::spawn("tauri-driver", &mut cmd)?;
        let url = format!("http://127.0.0.1:{port}");
        // tauri-driver listens at once but forwards to WebKitWebDriver, which takes a moment.
        wait_listening(&mut driver, port).await?;
        wait_listening(&mut driver, native_port).await?;

        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": env!("CARGO_BIN_EXE_beckon-app") }),
        );
        let wd = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .with_context(|| format!("cannot start {}'s app through tauri-driver", l.user))?;
        let main = wd.window().await?;
        Ok(App {
            user: l.user,
            wd,
            main,
            shots: l.shots.to_owned(),
            _config: config,
            _driver: driver,
        })
    }

    /// Ends the WebDriver session, which quits the app.
    pub async fn quit(self) {
        let _ = self.wd.close().await;
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        self.wd
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| anyhow!("{}: {css} not found ({e})", self.user))
    }

    /// Asked in the page rather than with element handles, which a re-render can make
    /// stale between finding and reporting.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        let script = "return document.querySelector(arguments[0]) !== null";
        let found = self
            .wd
            .execute(script, vec![css.into()])
            .await
            .with_context(|| format!("{}: cannot look for {css}", self.user))?;
        match found {
            serde_json::Value::Bool(b) => Ok(b),
            other => bail!("{}: looking for {css} gave {other}", self.user),
        }
    }

    /// Waits until `css` matches, and says what the window showed instead if it never does.
    pub async fn wait_for(&self, css: &str) -> Result<()> {
        self.wait_until(css, WAIT, |found| found).await
    }

    pub async fn wait_gone(&self, css: &str) -> Result<()> {
        self.wait_until(css, WAIT, |found| !found).await
    }

    pub async fn wait_for_within(&self, css: &str, within: Duration) -> Result<()> {
        self.wait_until(css, within, |found| found).await
    }

    async fn wait_until(&self, css: &str, within: Duration, ok: fn(bool) -> bool) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if ok(self.exists(css).await?) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: waited {within:?} for {css} to {}; the window shows {}",
                    self.user,
                    if ok(true) { "appear" } else { "go" },
                    self.describe().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_page(&self, page: &str) -> Result<()> {
        self.wait_for(&format!("[data-page=\"{page}\"]")).await
    }

    /// The current page, banner and alerts, for failure messages.
    pub async fn describe(&self) -> String {
        let script = r#"
            const q = (s) => document.querySelector(s);
            const page = q("[data-page]")?.getAttribute("data-page") ?? "nothing";
            const outcome = q("[data-outcome]")?.getAttribute("data-outcome");
            const alert = q("[role=alert]")?.textContent?.trim();
            return `page ${page}` + (outcome ? `, banner ${outcome}` : "")
                + (alert ? `, alert "${alert}"` : "");
        "#;
        match self.wd.execute(script, vec![]).await {
            Ok(serde_json::Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => format!("(cannot read the window: {e})"),
        }
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        self.on_element(css, |el| async move { el.click().await })
            .await
            .with_context(|| format!("{}: cannot click {css}", self.user))
    }

    /// Clicks a control that closes its own window (the popup's accept and decline), then
    /// waits for that window to be gone and drives the main window again. The window may
    /// close before WebKitWebDriver has flushed the click's mouse events; it then answers
    /// `no such window` for a click that did happen. That answer is accepted only because
    /// the window is then checked to be really gone; any other error fails as in [`click`].
    ///
    /// [`click`]: App::click
    pub async fn click_closing(&self, css: &str) -> Result<()> {
        let window = self.wd.window().await?;
        match self
            .on_element(css, |el| async move { el.click().await })
            .await
        {
            Ok(()) => {}
            Err(e)
                if e.downcast_ref::<CmdError>()
                    .is_some_and(CmdError::is_no_such_window) => {}
            Err(e) => return Err(e.context(format!("{}: cannot click {css}", self.user))),
        }
        let deadline = Instant::now() + WAIT;
        while self.wd.windows().await?.contains(&window) {
            if Instant::now() > deadline {
                bail!("{}: clicked {css}, but its window is still open", self.user);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.to_main().await
    }

    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        self.on_element(css, |el| async move {
            el.clear().await?;
            el.send_keys(text).await
        })
        .await
        .with_context(|| format!("{}: cannot type into {css}", self.user))
    }

    /// Does `op` on the element `css` finds, again on a fresh one if the page re-rendered
    /// in between (the UI redraws a page from each snapshot, so handles go stale).
    async fn on_element<T, F, Fut>(&self, css: &str, op: F) -> Result<T>
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = Result<T, CmdError>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            let el = self.find(css).await?;
            match op(el).await {
                Err(e) if is_stale(&e) && Instant::now() < deadline => continue,
                other => return Ok(other?),
            }
        }
    }

    /// Presses a key in the focused element of the current window (WebDriver key codes,
    /// e.g. "\u{e00c}" for Escape, "\u{e007}" for Enter).
    pub async fn press(&self, key: &str) -> Result<()> {
        self.wd
            .active_element()
            .await?
            .send_keys(key)
            .await
            .with_context(|| format!("{}: cannot press a key", self.user))
    }

    /// The element's text content, trimmed. (WebDriver's rendered text comes back empty
    /// while a just-opened window is not yet shown.)
    pub async fn text(&self, css: &str) -> Result<String> {
        self.wait_for(css).await?;
        let script = "return document.querySelector(arguments[0])?.textContent?.trim() ?? ''";
        match self.wd.execute(script, vec![css.into()]).await? {
            serde_json::Value::String(s) => Ok(s),
            other => bail!("{}: text of {css} came back as {other}", self.user),
        }
    }

    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        self.on_element(css, |el| async move { el.attr(name).await })
            .await
    }

    /// Saves what this window shows as `<shots>/<name>.png`.
    pub async fn shot(&self, name: &str) -> Result<()> {
        // Let entry transitions (a banner fading in) finish: the picture is for people.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self
            .wd
            .screenshot()
            .await
            .with_context(|| format!("{}: cannot take the screenshot {name}", self.user))?;
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))
    }

    pub async fn window_count(&self) -> Result<usize> {
        Ok(self.wd.windows().await?.len())
    }

    /// Waits for the incoming-call popup window and drives it from now on.
    pub async fn to_popup(&self) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let others: Vec<WindowHandle> = self
                .wd
                .windows()
                .await?
                .into_iter()
                .filter(|h| *h != self.main)
                .collect();
            if let Some(popup) = others.into_iter().next() {
                self.wd.switch_to_window(popup).await?;
                return self.wait_page("incoming").await;
            }
            if Instant::now() > deadline {
                bail!("{}: no incoming-call popup window appeared", self.user);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drives the main window again.
    pub async fn to_main(&self) -> Result<()> {
        Ok(self.wd.switch_to_window(self.main.clone()).await?)
    }

    /// Waits for the popup to close by itself.
    pub async fn wait_popup_closed(&self) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        while self.window_count().await? > 1 {
            if Instant::now() > deadline {
                bail!("{}: the incoming-call popup is still open", self.user);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

fn is_stale(e: &CmdError) -> bool {
    // WebKitWebDriver also reports a node replaced mid-command as "Stale element found".
    e.is_stale_element_reference() || e.to_string().to_lowercase().contains("stale element")
}

fn tauri_driver() -> Result<PathBuf> {
    which("tauri-driver")
        .or_else(|| {
            let cargo_home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
            Some(cargo_home.join("bin/tauri-driver")).filter(|p| p.is_file())
        })
        .context("tauri-driver is missing: scripts/test installs it (cargo install tauri-driver)")
}

/// A port nothing listens on now; the driver binds it a moment later.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_listening(driver: &mut Proc, port: u16) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        driver.check_running()?;
        if Instant::now() > deadline {
            bail!("tauri-driver is not listening on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
