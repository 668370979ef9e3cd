//! One page driven over WebDriver (a Tauri window through tauri-driver, or a browser
//! tab through chromedriver), with helpers that wait for what a user would wait for and
//! say what was on screen when it did not come. The UI redraws a page from each
//! snapshot, so elements are looked up again rather than kept.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};

use crate::process::Proc;

/// How long the UI gets to show something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Page {
    pub user: &'static str,
    pub wd: Client,
    pub shots: PathBuf,
}

impl Page {
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

    pub async fn wait_until(
        &self,
        css: &str,
        within: Duration,
        ok: fn(bool) -> bool,
    ) -> Result<()> {
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
    pub async fn on_element<T, F, Fut>(&self, css: &str, op: F) -> Result<T>
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
}

pub fn is_stale(e: &CmdError) -> bool {
    // WebKitWebDriver also reports a node replaced mid-command as "Stale element found".
    e.is_stale_element_reference() || e.to_string().to_lowercase().contains("stale element")
}

/// A port nothing listens on now; a driver binds it a moment later.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `port` takes connections, failing early if `process` died.
pub async fn wait_listening(process: &mut Proc, port: u16) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        process.check_running()?;
        if Instant::now() > deadline {
            bail!("nothing is listening on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
