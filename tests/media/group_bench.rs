//! `-- --bench-group`: what one member's machine pays in a mesh call. alice calls everyone
//! else; once she hears all of them, her browser's CPU (every Chromium process of her
//! profile, from /proc) and her upload (the `bytesSent` of all her senders, from her own
//! `getStats`) are measured over a fixed window, in 2-, 4- and 10-member voice calls and
//! 2- and 4-member video calls.
//!
//! Every member's browser runs on this one machine, so the others' browsers run at Linux
//! `SCHED_IDLE`: the member measured gets the CPU it asks for, and the others, who would
//! each have a machine of their own, take what is left. (Without it, ten browsers on two
//! cores starve each other, and the 10-member call measured a third of its real upload.)
//!
//! The floor is the 2-member call of the same kind in the same run: one peer connection.
//! A mesh sends one copy per other member, so the ratio to watch is per other member: near
//! 1.0x means the mesh costs what N-1 separate calls would, and nothing more.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::wd::TimeoutConfiguration;
use serde_json::Value;

use crate::group::peer_of;
use crate::stack::{Dirs, Extra, Net, Side, Stack};
use crate::stats::{num, stats};

/// Members beyond alice and bob, for up to ten.
const MORE: [Extra; 8] = [
    ("carol", "Carol Reyes", 550.0),
    ("dave", "Dave Okafor", 770.0),
    ("erin", "Erin Wu", 330.0),
    ("frank", "Frank Ito", 880.0),
    ("grace", "Grace Lind", 495.0),
    ("heidi", "Heidi Berg", 605.0),
    ("ivan", "Ivan Petrov", 715.0),
    ("judy", "Judy Moss", 935.0),
];

/// Video needs its bitrate to ramp up before it is what a call sends.
const WARM_UP: Duration = Duration::from_secs(8);
const WINDOW: Duration = Duration::from_secs(10);
const CONNECT_WAIT: Duration = Duration::from_secs(180);
const SCRIPT_WAIT: Duration = Duration::from_secs(180);

struct Cost {
    cpu_pct: f64,
    upload_kbps: f64,
}

pub async fn run(dirs: &Dirs) -> Result<()> {
    println!(
        "\none member's cost in a mesh call (alice's Chromium; {}s window after {}s warm-up)",
        WINDOW.as_secs(),
        WARM_UP.as_secs()
    );
    println!(
        "{:<6} {:>7} {:>9} {:>12} {:>16} {:>16}",
        "kind", "members", "CPU %", "upload kbps", "CPU / other", "upload / other"
    );
    for kind in ["voice", "video"] {
        let sizes: &[usize] = if kind == "voice" {
            &[2, 4, 10]
        } else {
            &[2, 4]
        };
        let mut floor: Option<Cost> = None;
        for &n in sizes {
            let stack = Stack::start_with(Net::Direct, dirs, &MORE[..n - 2]).await?;
            let result = measure(&stack, kind, n).await;
            stack.stop().await;
            let cost = result.with_context(|| format!("{n}-member {kind} call"))?;
            let others = (n - 1) as f64;
            let base = floor.get_or_insert(Cost {
                cpu_pct: cost.cpu_pct,
                upload_kbps: cost.upload_kbps,
            });
            println!(
                "{kind:<6} {n:>7} {:>9.1} {:>12.0} {:>15.2}x {:>15.2}x",
                cost.cpu_pct,
                cost.upload_kbps,
                cost.cpu_pct / others / base.cpu_pct.max(0.1),
                cost.upload_kbps / others / base.upload_kbps.max(0.1),
            );
        }
    }
    println!(
        "(x: per other member, against the 2-member call of the same kind, measured in this run)"
    );
    Ok(())
}

async fn measure(s: &Stack, kind: &str, n: usize) -> Result<Cost> {
    // Ten browsers on two cores answer slowly: a stats call may take tens of seconds.
    for side in s.sides() {
        let slow = TimeoutConfiguration::new(Some(SCRIPT_WAIT), None, None);
        side.page.wd.update_timeouts(slow).await?;
    }
    let others: Vec<&Side> = s.sides().skip(1).collect();
    for o in &others {
        idle_priority(o)?;
    }
    let ids: Vec<&str> = others.iter().map(|o| o.page.user).collect();
    let alice = &s.alice.page;
    alice.fill("#dial-ids", &ids.join(", ")).await?;
    alice
        .click(&format!("[data-action=call][data-type={kind}]"))
        .await?;
    for o in &others {
        o.page.wait_page("incoming").await?;
        o.page.click("[data-action=accept]").await?;
    }
    alice.wait_page("calling").await?;
    let deadline = Instant::now() + CONNECT_WAIT;
    loop {
        let st = stats(alice).await?;
        let heard = ids.iter().all(|id| {
            peer_of(&st, id).is_some_and(|p| num(p, "/inboundAudio/packetsReceived") > 0.0)
        });
        if heard {
            break;
        }
        if Instant::now() > deadline {
            bail!("alice did not hear all of {ids:?} within {CONNECT_WAIT:?}: {st}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The call started processes of its own (audio, network): idle them too.
    for o in &others {
        idle_priority(o)?;
    }
    tokio::time::sleep(WARM_UP).await;
    let (bytes0, cpu0, t0) = (
        sent_bytes(&stats(alice).await?),
        cpu_seconds(&s.alice)?,
        Instant::now(),
    );
    tokio::time::sleep(WINDOW).await;
    let (bytes1, cpu1, t1) = (
        sent_bytes(&stats(alice).await?),
        cpu_seconds(&s.alice)?,
        Instant::now(),
    );
    let secs = (t1 - t0).as_secs_f64();
    alice.shot(&format!("bench-{n}-{kind}-alice")).await?;
    let end = if n > 2 {
        "[data-action=end-call]"
    } else {
        "[data-action=hang-up]"
    };
    alice.click(end).await?;
    alice.wait_page("home").await?;
    Ok(Cost {
        cpu_pct: 100.0 * (cpu1 - cpu0) / secs,
        upload_kbps: (bytes1 - bytes0) * 8.0 / secs / 1000.0,
    })
}

/// Everything alice's senders have sent, audio and video, to every peer.
fn sent_bytes(st: &Value) -> f64 {
    st.pointer("/peers")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| num(p, "/outboundAudio/bytesSent") + num(p, "/outboundVideo/bytesSent"))
                .sum()
        })
        .unwrap_or(0.0)
}

/// Every process started with this side's browser profile.
fn browser_processes(side: &Side) -> Result<Vec<std::path::PathBuf>> {
    let needle = format!("--user-data-dir={}", side.profile.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let path = entry?.path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .contains(&needle)
        {
            found.push(path);
        }
    }
    Ok(found)
}

/// Puts every thread of this side's browser at `SCHED_IDLE` (children inherit it).
fn idle_priority(side: &Side) -> Result<()> {
    for path in browser_processes(side)? {
        let Some(pid) = path.file_name().and_then(|p| p.to_str()) else {
            continue;
        };
        let status = std::process::Command::new("chrt")
            .args(["--idle", "-a", "-p", "0", pid])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("cannot run chrt")?;
        // A process may have exited since it was listed: only a refusal of a live one counts.
        if !status.success() && path.exists() {
            bail!(
                "chrt refused to idle {}'s browser process {pid}",
                side.page.user
            );
        }
    }
    Ok(())
}

/// CPU time (user + system) of every process started with this side's browser profile.
fn cpu_seconds(side: &Side) -> Result<f64> {
    let tick = clock_ticks()?;
    let mut total = 0u64;
    for path in browser_processes(side)? {
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces): utime and stime are the
        // 14th and 15th of the whole line.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        total += field(11) + field(12);
    }
    if total == 0 {
        bail!("no process of {}'s browser found", side.page.user);
    }
    Ok(total as f64 / tick)
}

fn clock_ticks() -> Result<f64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("cannot run getconf")?;
    let ticks: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("getconf CLK_TCK printed no number")?;
    Ok(ticks)
}
