//! A side on Windows: the real desktop app (its own window, not browser mode) on WebView2,
//! with its own config folder and so its own WebView2 profile, attached to by its own
//! msedgedriver.
//!
//! The app is started by this test, not by tauri-driver: msedgedriver would launch it and
//! hand WebView2 `--remote-debugging-port` through `WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS`,
//! which WebView2 (runtime 150 and later) ignores in an elevated process, and GitHub's
//! Windows runners run elevated. Instead the port and the fake devices go to the app in
//! `BECKON_WEBVIEW2_ARGS`, which a debug build hands to WebView2 through its API
//! (src-tauri/src/webview_profile.rs), and msedgedriver attaches to that port
//! (`ms:edgeOptions.debuggerAddress`).
//!
//! `--use-fake-ui-for-media-stream` answers any prompt WebView2 would show, so this run
//! does not show that the app's own permission handler (src-tauri/src/permissions.rs)
//! grants the microphone; set `BECKON_MEDIA_REAL_PROMPTS=1` to leave it out and let only
//! that handler answer.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::page::{free_port, wait_listening, Page};
use crate::process::Proc;
use crate::stack::{app_log, config_dir, write_tone, Dirs, Side, User};

/// A first WebView2 start in a fresh profile on a hosted runner takes seconds.
const APP_START: Duration = Duration::from_secs(60);

pub async fn start(user: User<'_>, dirs: &Dirs) -> Result<Side> {
    let id = user.id;
    let config = config_dir(&user)?;
    let tone = dirs.tones.join(format!("{id}.wav"));
    write_tone(&tone, user.tone_hz)?;
    let debug_port = free_port()?;
    let args = browser_args(debug_port, &tone);
    let mut app = Proc::spawn(
        &format!("{id}'s app"),
        Command::new(env!("CARGO_BIN_EXE_beckon-app"))
            .env("BECKON_CONFIG_DIR", config.path())
            .env("BECKON_WEBVIEW2_ARGS", &args)
            // Folded into BECKON_WEBVIEW2_ARGS; where WebView2 does read it, it would
            // compete with the switches given through the API.
            .env_remove("WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS")
            .env("BECKON_LOG", "info,beckon_client=debug")
            .stdout(Stdio::null())
            .stderr(app_log(dirs, &user)?),
    )?;
    wait_port(&mut app, debug_port)
        .await
        .with_context(|| format!("{id}'s app opened no DevTools port (switches: {args})"))?;

    let driver_port = free_port()?;
    let log = std::fs::File::create(dirs.logs.join(format!("{id}-msedgedriver.log")))?;
    let mut driver = Proc::spawn(
        "msedgedriver",
        Command::new(msedgedriver())
            .arg(format!("--port={driver_port}"))
            .stdout(log.try_clone()?)
            .stderr(log),
    )?;
    wait_listening(&mut driver, driver_port).await?;

    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "webview2".into());
    caps.insert(
        "ms:edgeOptions".into(),
        serde_json::json!({ "debuggerAddress": format!("127.0.0.1:{debug_port}") }),
    );
    let wd = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .with_context(|| format!("cannot attach msedgedriver to {id}'s app"))?;
    let page = Page {
        user: id,
        wd,
        shots: dirs.shots.clone(),
    };
    page.wait_page("home").await?;
    Ok(Side {
        page,
        profile: config.path().to_owned(),
        _driver: Some(driver),
        _app: app,
        _config: config,
    })
}

/// The WebView2 switches for one app: its DevTools port, fake devices with the user's
/// tone, no throttling of a window that is covered by the other app's, and whatever the
/// workflow put in `WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS`. Chromium splits them at
/// spaces, so the tone's path must have none (the runner's target folder has none).
fn browser_args(debug_port: u16, tone: &std::path::Path) -> String {
    let mut args = vec![
        format!("--remote-debugging-port={debug_port}"),
        "--use-fake-device-for-media-stream".to_owned(),
        format!("--use-file-for-fake-audio-capture={}", tone.display()),
        "--autoplay-policy=no-user-gesture-required".into(),
        "--disable-backgrounding-occluded-windows".into(),
        "--disable-renderer-backgrounding".into(),
        "--disable-background-timer-throttling".into(),
    ];
    let real_prompts = std::env::var_os("BECKON_MEDIA_REAL_PROMPTS").is_some();
    if !real_prompts {
        args.push("--use-fake-ui-for-media-stream".into());
    }
    let extra = std::env::var("WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS").unwrap_or_default();
    for arg in extra.split_whitespace() {
        let present = args.iter().any(|a| a == arg);
        let unwanted = real_prompts && arg == "--use-fake-ui-for-media-stream";
        if !present && !unwanted {
            args.push(arg.to_owned());
        }
    }
    args.join(" ")
}

/// Waits for the app's DevTools port, failing early if the app exited.
async fn wait_port(app: &mut Proc, port: u16) -> Result<()> {
    let deadline = Instant::now() + APP_START;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        app.check_running()?;
        if Instant::now() > deadline {
            bail!("nothing listened on port {port} within {APP_START:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `BECKON_MSEDGEDRIVER`, else `msedgedriver` from PATH. It must match the WebView2
/// runtime's version (the workflow downloads the matching one).
fn msedgedriver() -> PathBuf {
    std::env::var_os("BECKON_MSEDGEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("msedgedriver"))
}
