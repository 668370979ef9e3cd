//! Real calls, end to end: the real server, two headless Beckon apps in browser mode, and
//! two headless Chromium browsers driving their pages through the UI, with fake devices
//! (a camera pattern and a generated tone). What is checked is what the browsers' own
//! `getStats` say arrived, through the page's `window.beckonMedia.stats()`.
//!
//! On Windows the two users are two real desktop apps on WebView2 instead (`webview2`,
//! `BECKON_MEDIA_DRIVER` in `stack`), for the scenarios that need no coturn and no killed
//! browser: `.github/workflows/windows.yml` runs `voice_call_mute_and_hang_up` so.
//!
//! Everything runs in a private network namespace with only loopback when it can (root:
//! CI and this project's machines): there Chromium's candidates, coturn's relays and the
//! server all meet at 127.0.0.1, and nothing leaves the machine. Elsewhere it runs as is.
//!
//! A test of `beckon-app` (src-tauri/Cargo.toml) so cargo builds the app first. Its own
//! runner, like tests/e2e: `cargo test -p beckon-app --test media -- NAME...`.
//! Screenshots and logs go to `target/tmp/media` (or `BECKON_MEDIA_DIR`).

mod bench;
mod chromium;
mod group;
mod group_bench;
// Shared with tests/e2e, which uses more of it.
#[allow(dead_code)]
#[path = "../e2e/page.rs"]
mod page;
#[path = "../e2e/process.rs"]
mod process;
#[path = "../e2e/runner.rs"]
mod runner;
mod scenarios;
mod stack;
mod stats;
mod webview2;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The whole run is bounded: a hang fails CI in minutes rather than at its time limit.
const BUDGET: Duration = Duration::from_secs(420);
/// Five calls of up to ten browsers each, started one after the other.
const GROUP_BENCH_BUDGET: Duration = Duration::from_secs(1200);
/// Set in the re-executed test inside its network namespace.
const IN_NAMESPACE: &str = "BECKON_MEDIA_NETNS";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in scenarios::ALL {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    if std::env::var_os(IN_NAMESPACE).is_none() {
        if let Some(error) = reexec_in_namespace(&args) {
            println!("media tests run in the host's network ({error})");
        }
    }
    let bench = if args.iter().any(|a| a == "--bench-group") {
        Some(Bench::Group)
    } else if args.iter().any(|a| a == "--bench") {
        Some(Bench::SetUp)
    } else {
        None
    };
    let filters = runner::filters(&args);
    let chosen: Vec<_> = scenarios::ALL
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if bench.is_none() {
        println!("\nrunning {} media scenarios", chosen.len());
        if chosen.is_empty() {
            return ExitCode::SUCCESS;
        }
    }
    let budget = match bench {
        Some(Bench::Group) => GROUP_BENCH_BUDGET,
        _ => BUDGET,
    };
    runner::run_bounded("media", budget, run(&chosen, bench))
}

#[cfg(not(unix))]
fn reexec_in_namespace(_args: &[String]) -> Option<String> {
    Some("network namespaces are Linux's".into())
}

/// Runs this same test again inside `unshare -n` with loopback up. Returns only if that
/// cannot be done (not root, no unshare), saying why.
#[cfg(unix)]
fn reexec_in_namespace(args: &[String]) -> Option<String> {
    use std::os::unix::process::CommandExt;
    let unshare = which("unshare")?;
    let probe = std::process::Command::new(&unshare)
        .args(["-n", "true"])
        .status();
    match probe {
        Ok(s) if s.success() => {}
        Ok(s) => return Some(format!("unshare -n refused: {s}")),
        Err(e) => return Some(format!("cannot run unshare: {e}")),
    }
    let me = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => return Some(format!("cannot find this test's binary: {e}")),
    };
    let err = std::process::Command::new(unshare)
        .args([
            "-n",
            "--",
            "sh",
            "-c",
            r#"ip link set lo up && exec "$0" "$@""#,
        ])
        .arg(me)
        .args(args)
        .env(IN_NAMESPACE, "1")
        .exec();
    Some(format!("cannot re-run in a network namespace: {err}"))
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// `--bench`: call set-up time; `--bench-group`: one member's CPU and upload in mesh calls.
#[derive(Clone, Copy)]
enum Bench {
    SetUp,
    Group,
}

async fn run(chosen: &[&(&str, scenarios::Scenario)], bench: Option<Bench>) -> Result<()> {
    let root = std::env::var_os("BECKON_MEDIA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("media"));
    let dirs = stack::Dirs {
        shots: root.join("shots"),
        logs: root.join("logs"),
        tones: root.join("tones"),
    };
    for dir in [&dirs.shots, &dirs.logs, &dirs.tones] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    match bench {
        Some(Bench::SetUp) => return bench::run(&dirs).await,
        Some(Bench::Group) => return group_bench::run(&dirs).await,
        None => {}
    }
    let mut result = Ok(());
    for (name, scenario) in chosen.iter().copied() {
        let t = Instant::now();
        print!("scenario {name} ... ");
        match scenario(&dirs).await {
            Ok(()) => println!("ok ({:.1} s)", t.elapsed().as_secs_f64()),
            Err(e) => {
                println!("FAILED ({:.1} s)", t.elapsed().as_secs_f64());
                result = Err(e.context(format!("scenario {name}")));
                break;
            }
        }
    }
    if result.is_err() {
        eprintln!("logs: {}", dirs.logs.display());
    }
    result
}
