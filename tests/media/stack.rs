//! What one media run needs, all on loopback: the real server (with the ICE settings under
//! test) and two users, alice and bob, each signed in from a settings file and with a
//! generated tone as the microphone. How a user's page runs is the [`Driver`]'s choice:
//! on Linux a headless app in browser mode shown in headless Chromium (`chromium`), on
//! Windows the real desktop app on WebView2 (`webview2`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::Duration;

use anyhow::{bail, Context, Result};
use beckon_protocol::IceTransportPolicy;
use beckon_server::ice::{IceSettings, Turn, TurnSecret};
use beckon_testkit::coturn::{self, Coturn};
use tokio::net::TcpListener;

use crate::page::{free_port, wait_listening, Page};
use crate::process::Proc;

/// One user's app and the page it is driven through.
pub struct Side {
    pub page: Page,
    /// Chromium's profile folder (its processes have it on their command line), or the
    /// WebView2 app's config folder.
    pub profile: PathBuf,
    /// The user's own WebDriver server (the WebView2 run has one per app).
    pub(crate) _driver: Option<Proc>,
    pub(crate) _app: Proc,
    pub(crate) _config: tempfile::TempDir,
}

/// What runs each user's page. `BECKON_MEDIA_DRIVER=chromium|webview2` chooses; the
/// default is WebView2 on Windows and Chromium elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `beckon-app --headless` and headless Chromium through one shared chromedriver.
    Chromium,
    /// The desktop app itself, attached to by its own msedgedriver.
    WebView2,
}

impl Driver {
    pub fn from_env() -> Result<Driver> {
        match std::env::var("BECKON_MEDIA_DRIVER").ok().as_deref() {
            None | Some("") if cfg!(windows) => Ok(Driver::WebView2),
            None | Some("") | Some("chromium") => Ok(Driver::Chromium),
            Some("webview2") => Ok(Driver::WebView2),
            Some(other) => bail!("BECKON_MEDIA_DRIVER is {other:?}, not chromium or webview2"),
        }
    }
}

/// What every side starts from.
pub struct User<'a> {
    pub id: &'static str,
    pub name: &'a str,
    pub tone_hz: f32,
    pub server_url: &'a str,
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
    /// Group calls' other members, in the order asked for.
    pub more: Vec<Side>,
    /// What the server hands out (the bench's floor uses the same).
    pub ice: IceSettings,
    _coturn: Option<Coturn>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), beckon_server::RunError>>>,
    _driver: Option<Proc>,
    _data: tempfile::TempDir,
}

/// The members a group scenario adds to alice and bob: user ID, name, tone.
pub type Extra = (&'static str, &'static str, f32);

impl Stack {
    pub async fn start(net: Net, dirs: &Dirs) -> Result<Stack> {
        Stack::start_with(net, dirs, &[]).await
    }

    pub async fn start_with(net: Net, dirs: &Dirs, extra: &[Extra]) -> Result<Stack> {
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

        let driver = Driver::from_env()?;
        let mut chromedriver = None;
        if driver == Driver::Chromium {
            let port = free_port()?;
            let log = std::fs::File::create(dirs.logs.join("chromedriver.log"))?;
            let mut proc = Proc::spawn(
                "chromedriver",
                Command::new("chromedriver")
                    .arg(format!("--port={port}"))
                    .stdout(log.try_clone()?)
                    .stderr(log),
            )?;
            wait_listening(&mut proc, port).await?;
            chromedriver = Some((proc, format!("http://127.0.0.1:{port}")));
        }
        let start = |id, name, tone_hz| {
            let user = User {
                id,
                name,
                tone_hz,
                server_url: &server_url,
            };
            let driver_url = chromedriver.as_ref().map(|(_, url)| url.clone());
            async move {
                match driver_url {
                    Some(url) => crate::chromium::start(user, &url, dirs).await,
                    None => crate::webview2::start(user, dirs).await,
                }
            }
        };
        // One after the other: two app or browser start-ups at once only slow both.
        let alice = start("alice", "Alice Martin", 440.0).await?;
        let bob = start("bob", "Bob Stone", 660.0).await?;
        let mut more = Vec::new();
        for (id, name, tone) in extra {
            more.push(start(id, name, *tone).await?);
        }
        Ok(Stack {
            alice,
            bob,
            more,
            ice,
            _coturn: coturn,
            stop: Some(stop),
            server: Some(server),
            _driver: chromedriver.map(|(proc, _)| proc),
            _data: data,
        })
    }

    /// Everyone: alice, bob, then the others.
    pub fn sides(&self) -> impl Iterator<Item = &Side> {
        [&self.alice, &self.bob].into_iter().chain(self.more.iter())
    }

    pub async fn stop(mut self) {
        for side in self.sides() {
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
    /// Kills this user's browser outright, as a crash would: no page unload, no goodbye.
    pub fn kill_browser(&self) -> Result<()> {
        if cfg!(windows) {
            bail!("killing the browser is a Linux (Chromium) scenario");
        }
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

/// A fresh config folder with the user's settings: signed in on start, no first-run page.
pub fn config_dir(user: &User<'_>) -> Result<tempfile::TempDir> {
    let config = tempfile::Builder::new()
        .prefix(&format!("beckon-media-{}-", user.id))
        .tempdir()?;
    let settings = serde_json::json!({
        "serverUrl": user.server_url, "userId": user.id, "userName": user.name,
        "token": null, "deviceId": format!("media-{}", user.id),
    });
    std::fs::write(config.path().join("settings.json"), settings.to_string())?;
    Ok(config)
}

/// The user's app log, for `Stdio`.
pub fn app_log(dirs: &Dirs, user: &User<'_>) -> Result<Stdio> {
    let file = std::fs::File::create(dirs.logs.join(format!("{}-app.log", user.id)))?;
    Ok(file.into())
}

/// Five seconds of a sine tone, 48 kHz mono: Chromium loops it as the microphone, and
/// the two sides get different pitches.
pub fn write_tone(path: &Path, hz: f32) -> Result<()> {
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
