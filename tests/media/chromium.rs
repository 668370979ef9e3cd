//! A side on Linux: `beckon-app --headless` (the core and browser mode, no window) and a
//! headless Chromium showing its page, with a fake camera and the user's tone as the
//! microphone, driven through the run's one chromedriver.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::page::{Page, WAIT};
use crate::process::Proc;
use crate::stack::{app_log, config_dir, write_tone, Dirs, Side, User};

pub async fn start(user: User<'_>, driver_url: &str, dirs: &Dirs) -> Result<Side> {
    let config = config_dir(&user)?;
    let id = user.id;
    let mut app = Proc::spawn(
        &format!("{id}'s headless app"),
        Command::new(env!("CARGO_BIN_EXE_beckon-app"))
            .arg("--headless")
            .env("BECKON_CONFIG_DIR", config.path())
            .env("BECKON_LOG", "info,beckon_client=debug")
            .stdout(Stdio::piped())
            .stderr(app_log(dirs, &user)?),
    )?;
    let url = page_url(&mut app).await?;

    let tone = dirs.tones.join(format!("{id}.wav"));
    write_tone(&tone, user.tone_hz)?;
    let profile = dirs.logs.join(format!("{id}-profile"));
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        // Shared memory in /tmp, not /dev/shm: a container's /dev/shm (64 MB in Docker)
        // is too small for two browsers with video, and Chromium crashes when it runs out.
        "--disable-dev-shm-usage".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1000,720".into(),
        format!("--user-data-dir={}", profile.display()),
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-audio-capture={}", tone.display()),
        // Without it Chromium offers no 127.0.0.1 candidate, and in a loopback-only
        // network namespace ICE gathering never completes.
        "--allow-loopback-in-peer-connection".into(),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium()?, "args": args }),
    );
    let wd = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .with_context(|| format!("cannot start {id}'s Chromium through chromedriver"))?;
    wd.goto(&url).await?;
    let page = Page {
        user: id,
        wd,
        shots: dirs.shots.clone(),
    };
    page.wait_page("home").await?;
    Ok(Side {
        page,
        profile,
        _driver: None,
        _app: app,
        _config: config,
    })
}

/// The URL the headless app prints on its first line of output.
async fn page_url(app: &mut Proc) -> Result<String> {
    let stdout = app
        .child()
        .stdout
        .take()
        .context("no stdout from the app")?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(WAIT, line)
        .await
        .context("the headless app printed no URL")???;
    match line.split_whitespace().find(|w| w.starts_with("http://")) {
        Some(url) => Ok(url.to_owned()),
        None => bail!("the headless app said {line:?}, not a URL"),
    }
}

fn chromium() -> Result<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = crate::which(name) {
            return Ok(p.display().to_string());
        }
    }
    bail!(
        "chromium is missing: scripts/test installs it (apt-get install chromium chromium-driver)"
    )
}
