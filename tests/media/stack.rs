//! What one media run needs, all on loopback: the real server (with the ICE settings under
//! test), two headless Beckon apps (alice and bob, each signed in from a settings file),
//! one chromedriver and a headless Chromium per user with a fake camera and a generated
//! tone as its microphone.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::Duration;

use anyhow::{bail, Context, Result};
use beckon_protocol::IceTransportPolicy;
use beckon_server::ice::{IceSettings, Turn, TurnSecret};
use beckon_testkit::coturn::{self, Coturn};
use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpListener;

use crate::page::{free_port, wait_listening, Page, WAIT};
use crate::process::Proc;

/// One user's headless app and the browser showing its page.
pub struct Side {
    pub page: Page,
    /// The Chromium profile: every process of this browser has it on its command line.
    pub profile: PathBuf,
    _app: Proc,
    _config: tempfile::TempDir,
}

/// How the browsers may reach each other.
#[derive(Debug, Clone, Copy)]
pub enum Net {
    /// No ICE servers: host candidates on loopback.
    Direct,
    /// Relay only, through a coturn whose secret the server shares.
    Relay,
    /// Relay only, but the server mints credentials with another secret than coturn's.
    RelayWrongSecret,
}

const TURN_SECRET: &str = "media-test-secret";

pub struct Stack {
    pub alice: Side,
    pub bob: Side,
    /// What the server hands out (the bench's floor uses the same).
    pub ice: IceSettings,
    _coturn: Option<Coturn>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), beckon_server::RunError>>>,
    _driver: Proc,
    _data: tempfile::TempDir,
}

impl Stack {
    pub async fn start(net: Net, dirs: &Dirs) -> Result<Stack> {
        let (coturn, ice) = match net {
            Net::Direct => (None, IceSettings::default()),
            Net::Relay | Net::RelayWrongSecret => {
                let binary = coturn::binary("turnserver")
                    .context("turnserver is missing: scripts/test installs coturn")?;
                let coturn = Coturn::start(&binary, TURN_SECRET);
                let secret = match net {
                    Net::RelayWrongSecret => "not-the-turn-secret",
                    _ => TURN_SECRET,
                };
                let ice = IceSettings {
                    stun_uris: vec![],
                    turn: Some(Turn {
                        uris: vec![coturn.uri()],
                        secret: TurnSecret::new(secret),
                        ttl: Duration::from_secs(600),
                    }),
                    policy: IceTransportPolicy::Relay,
                };
                (Some(coturn), ice)
            }
        };
        let data = tempfile::tempdir()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let server_url = format!("ws://{}/ws", listener.local_addr()?);
        let mut config = beckon_server::Config::for_tests(data.path().join("beckon.db"));
        config.ice = ice.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(beckon_server::run(listener, config, async {
            let _ = stopped.await;
        }));

        let port = free_port()?;
        let log = std::fs::File::create(dirs.logs.join("chromedriver.log"))?;
        let mut driver = Proc::spawn(
            "chromedriver",
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        wait_listening(&mut driver, port).await?;
        let driver_url = format!("http://127.0.0.1:{port}");

        let alice = Side::start(
            "alice",
            "Alice Martin",
            440.0,
            &server_url,
            &driver_url,
            dirs,
        )
        .await?;
        let bob = Side::start("bob", "Bob Stone", 660.0, &server_url, &driver_url, dirs).await?;
        Ok(Stack {
            alice,
            bob,
            ice,
            _coturn: coturn,
            stop: Some(stop),
            server: Some(server),
            _driver: driver,
            _data: data,
        })
    }

    pub async fn stop(mut self) {
        for side in [&self.alice, &self.bob] {
            let _ = side.page.wd.clone().close().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// Where a run keeps its screenshots, logs and generated tones.
pub struct Dirs {
    pub shots: PathBuf,
    pub logs: PathBuf,
    pub tones: PathBuf,
}

impl Side {
    async fn start(
        user: &'static str,
        name: &str,
        tone_hz: f32,
        server_url: &str,
        driver_url: &str,
        dirs: &Dirs,
    ) -> Result<Side> {
        let config = tempfile::Builder::new()
            .prefix(&format!("beckon-media-{user}-"))
            .tempdir()?;
        let settings = serde_json::json!({
            "serverUrl": server_url, "userId": user, "userName": name,
            "token": null, "deviceId": format!("media-{user}"),
        });
        std::fs::write(config.path().join("settings.json"), settings.to_string())?;
        let log = std::fs::File::create(dirs.logs.join(format!("{user}-app.log")))?;
        let mut app = Proc::spawn(
            &format!("{user}'s headless app"),
            Command::new(env!("CARGO_BIN_EXE_beckon-app"))
                .arg("--headless")
                .env("BECKON_CONFIG_DIR", config.path())
                .env("BECKON_LOG", "info,beckon_client=debug")
                .stdout(Stdio::piped())
                .stderr(log),
        )?;
        let url = page_url(&mut app).await?;

        let tone = dirs.tones.join(format!("{user}.wav"));
        write_tone(&tone, tone_hz)?;
        let profile = dirs.logs.join(format!("{user}-profile"));
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
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
            .with_context(|| format!("cannot start {user}'s Chromium through chromedriver"))?;
        wd.goto(&url).await?;
        let page = Page {
            user,
            wd,
            shots: dirs.shots.clone(),
        };
        page.wait_page("home").await?;
        Ok(Side {
            page,
            profile,
            _app: app,
            _config: config,
        })
    }

    /// Kills this user's browser outright, as a crash would: no page unload, no goodbye.
    pub fn kill_browser(&self) -> Result<()> {
        let profile = format!("user-data-dir={}", self.profile.display());
        let status = Command::new("pkill")
            .args(["-KILL", "-f", "--", &profile])
            .status()
            .context("cannot run pkill")?;
        if !status.success() {
            bail!("no browser process of {} was found to kill", self.page.user);
        }
        Ok(())
    }
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

/// Five seconds of a sine tone, 48 kHz mono: Chromium loops it as the microphone, and
/// the two sides get different pitches.
fn write_tone(path: &Path, hz: f32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(path, spec)?;
    for i in 0..(5 * spec.sample_rate) {
        let t = i as f32 / spec.sample_rate as f32;
        let sample = (t * hz * std::f32::consts::TAU).sin() * 0.5;
        wav.write_sample((sample * f32::from(i16::MAX)) as i16)?;
    }
    wav.finalize()?;
    Ok(())
}
