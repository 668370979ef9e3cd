//! One real Beckon app, started and driven by its own tauri-driver (one driver serves one
//! session, so two apps need two drivers), with its own config directory so it is its own
//! user. What is not about windows (finding, clicking, waiting) is its [`Page`]'s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::wd::WindowHandle;
use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::desktop::{log_file, which, Desktop};
use crate::page::{free_port, wait_listening, Page, WAIT};
use crate::process::Proc;

/// Control down, W, every modifier up again (WebDriver key codes).
const CTRL_W: &str = "\u{e009}w\u{e000}";

pub struct App {
    page: Page,
    main: WindowHandle,
    /// The app's own home directory: what it writes there (its login item) is its own,
    /// and nothing of the machine's user leaks in.
    pub home: tempfile::TempDir,
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
        let home = tempfile::Builder::new()
            .prefix(&format!("beckon-e2e-home-{}-", l.user))
            .tempdir()?;
        let (port, native_port) = (free_port()?, free_port()?);
        let log = log_file(l.logs, &format!("{}.log", l.user))?;
        let mut cmd = Command::new(driver_bin);
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("DISPLAY", &l.desktop.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &l.desktop.bus)
            .env("BECKON_CONFIG_DIR", config.path())
            .env("HOME", home.path())
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
            page: Page {
                user: l.user,
                wd,
                shots: l.shots.to_owned(),
            },
            main,
            home,
            _config: config,
            _driver: driver,
        })
    }

    /// Puts the main window away as a user does, with Ctrl+W (the app hides it, as when
    /// it is closed: Beckon stays in the tray), and waits until its page is hidden.
    pub async fn put_main_away(&self) -> Result<()> {
        self.to_main().await?;
        self.press(CTRL_W).await?;
        self.wait_main_shown(false).await
    }

    /// Waits until the main window's page is on the screen (or off it), as the page itself
    /// sees it (`document.visibilityState`).
    pub async fn wait_main_shown(&self, shown: bool) -> Result<()> {
        self.to_main().await?;
        let state = if shown { "visible" } else { "hidden" };
        self.wait_for(&format!("html[data-visibility={state}]"))
            .await
            .with_context(|| format!("{}: the main window is not {state}", self.user))
    }

    /// Ends the WebDriver session, which quits the app.
    pub async fn quit(self) {
        let _ = self.page.wd.close().await;
    }

    /// Clicks a control that puts its own window away (the popup's accept and decline),
    /// then waits for that window to be hidden and drives the main window again. The click
    /// is the element's own `click()`, run as a script: WebKitWebDriver's native click
    /// waits until the window has processed its mouse events, and a window hidden by the
    /// click never does, so a native click could wait forever. The handler that runs is the
    /// one a mouse click runs; [`click`] stays native for everything else.
    ///
    /// [`click`]: App::click
    pub async fn click_closing(&self, css: &str) -> Result<()> {
        let clicked = self
            .wd
            .execute(
                "const el = document.querySelector(arguments[0]); if (el) el.click(); return !!el;",
                vec![css.into()],
            )
            .await
            .with_context(|| format!("{}: cannot click {css}", self.user))?;
        if clicked != serde_json::Value::Bool(true) {
            bail!("{}: nothing to click at {css}", self.user);
        }
        self.wait_popup_closed().await
    }

    /// The popup's window handle: it is made at start, hidden, and kept.
    async fn popup(&self) -> Result<WindowHandle> {
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
                return Ok(popup);
            }
            if Instant::now() > deadline {
                bail!("{}: the app has no incoming-call popup window", self.user);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the incoming-call popup to be shown with a call, and drives it from now on.
    pub async fn to_popup(&self) -> Result<()> {
        let popup = self.popup().await?;
        self.wd.switch_to_window(popup).await?;
        self.wait_for("html[data-visibility=visible]")
            .await
            .with_context(|| format!("{}: the incoming-call popup was not shown", self.user))?;
        self.wait_page("incoming").await
    }

    /// Drives the main window again.
    pub async fn to_main(&self) -> Result<()> {
        Ok(self.wd.switch_to_window(self.main.clone()).await?)
    }

    /// Waits for the popup to be put away by itself, then drives the main window again.
    pub async fn wait_popup_closed(&self) -> Result<()> {
        let popup = self.popup().await?;
        self.wd.switch_to_window(popup).await?;
        let hidden = self.wait_for("html[data-visibility=hidden]").await;
        self.to_main().await?;
        hidden.with_context(|| format!("{}: the incoming-call popup is still shown", self.user))
    }

    /// Whether the popup is on screen now.
    pub async fn popup_shown(&self) -> Result<bool> {
        let popup = self.popup().await?;
        self.wd.switch_to_window(popup).await?;
        let shown = self.exists("html[data-visibility=visible]").await;
        self.to_main().await?;
        shown
    }
}

impl std::ops::Deref for App {
    type Target = Page;

    fn deref(&self) -> &Page {
        &self.page
    }
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
