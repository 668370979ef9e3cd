//! End to end: the real server, two real Beckon apps (alice and bob) under a private Xvfb
//! desktop, each driven through its UI by its own tauri-driver, and a third user (carol)
//! on the SDK. The scenarios share one set of apps, as a user's day does, and run in
//! order; each leaves both apps idle on the home page.
//!
//! It is declared as a test of `beckon-app` (see src-tauri/Cargo.toml) because only then
//! does cargo build the app binary before running it and hand over its path. It has its
//! own runner rather than libtest's: the scenarios must run one after another on the same
//! apps, and a failure is reported with screenshots of both apps.
//!
//! `cargo test -p beckon-app --test e2e -- NAME...` runs the scenarios whose name
//! contains NAME. Screenshots and logs go to `target/tmp/e2e` (or `BECKON_E2E_DIR`).

mod app;
mod bench;
mod desktop;
mod page;
mod process;
mod runner;
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use app::{App, Launch};
use desktop::Desktop;

/// The whole run is bounded: a hang fails CI in minutes rather than at its time limit.
const BUDGET: Duration = Duration::from_secs(300);

/// How long alice's calls ring: long enough to answer through WebDriver, short enough
/// for the no-answer scenario.
const RING_SECONDS: &str = "8";

pub struct World {
    pub server_url: String,
    pub desktop: Desktop,
    pub alice: App,
    pub bob: App,
    pub shots: PathBuf,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in scenarios::ALL {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--bench") {
        println!("\npopup benchmark (after signing in)");
        return runner::run_bounded("popup benchmark", BUDGET, run(&[], true));
    }
    let filters = runner::filters(&args);
    let chosen: Vec<_> = scenarios::ALL
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    println!(
        "\nrunning {} end-to-end scenarios (after signing in)",
        chosen.len()
    );
    if chosen.is_empty() {
        return ExitCode::SUCCESS;
    }
    runner::run_bounded("end-to-end", BUDGET, run(&chosen, false))
}

async fn run(chosen: &[&(&str, scenarios::Scenario)], bench: bool) -> Result<()> {
    let root = std::env::var_os("BECKON_E2E_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e"));
    let (shots, logs) = (root.join("shots"), root.join("logs"));
    for dir in [&shots, &logs] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }

    let data = tempfile::tempdir()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server_url = format!("ws://{}/ws", listener.local_addr()?);
    let config = beckon_server::Config::for_tests(data.path().join("beckon.db"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(beckon_server::run(listener, config, async {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    let desktop = Desktop::start(&logs)?;
    let ring = [("BECKON_RING_SECONDS", RING_SECONDS)];
    let launch = |user, env| Launch {
        desktop: &desktop,
        user,
        logs: &logs,
        shots: &shots,
        env,
    };
    // One after the other: two WebKit start-ups at once on two cores only slow both.
    let alice = App::launch(launch("alice", &ring)).await?;
    let bob = App::launch(launch("bob", &[])).await?;
    println!(
        "desktop {} and both apps up in {:.1} s; screenshots in {}",
        desktop.display,
        started.elapsed().as_secs_f64(),
        shots.display()
    );

    let world = World {
        server_url,
        desktop,
        alice,
        bob,
        shots: shots.clone(),
    };
    let mut result = Ok(());
    for (name, scenario) in std::iter::once(&scenarios::SIGN_IN).chain(chosen.iter().copied()) {
        let t = Instant::now();
        print!("scenario {name} ... ");
        match scenario(&world).await {
            Ok(()) => println!("ok ({:.1} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                // Said at once: the screenshots after it may wait on a window that is gone.
                println!("FAILED ({:.1} s): {e:#}", t.elapsed().as_secs_f64());
                failure_shots(&world, name).await;
                result = Err(e.context(format!("scenario {name}")));
                break;
            }
        }
    }
    if bench && result.is_ok() {
        result = bench::popup(&world).await;
    }

    let World {
        alice,
        bob,
        desktop,
        ..
    } = world;
    alice.quit().await;
    bob.quit().await;
    drop(desktop);
    let _ = stop.send(());
    let _ = server.await;
    if result.is_err() {
        eprintln!("logs: {}", logs.display());
        // CI keeps only what was printed: the ends of the logs say what the apps saw.
        if std::env::var_os("CI").is_some() {
            print_log_tails(&logs);
        }
    }
    result
}

fn print_log_tails(logs: &Path) {
    const LINES: usize = 40;
    let Ok(entries) = std::fs::read_dir(logs) else {
        return;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("---- last {LINES} lines of {}", entry.path().display());
        for line in &lines[lines.len().saturating_sub(LINES)..] {
            eprintln!("{line}");
        }
    }
}

const FAILURE_SHOT_WAIT: Duration = Duration::from_secs(10);

/// What each app and the whole screen showed when a scenario failed. A window that is not
/// on the screen can keep WebKitWebDriver's screenshot waiting for ever: each is bounded.
async fn failure_shots(w: &World, scenario: &str) {
    for app in [&w.alice, &w.bob] {
        let shot = async {
            let _ = app.to_main().await;
            let _ = app.shot(&format!("FAILED-{scenario}-{}", app.user)).await;
        };
        let _ = tokio::time::timeout(FAILURE_SHOT_WAIT, shot).await;
    }
    let _ = w
        .desktop
        .screenshot(&w.shots.join(format!("FAILED-{scenario}-screen.png")));
}
