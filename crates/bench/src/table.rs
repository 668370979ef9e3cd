//! `beckon-bench table`: Beckon and the two floors measured in the same run, interleaved
//! (Beckon, WS floor, TCP floor, Beckon, ...), so a busy machine slows all three alike
//! and the ratios stay meaningful when the absolute numbers do not. Prints the medians
//! and Beckon's ratio to each floor, with the goals of issue 14 beside them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::args::{Answer, Target};
use crate::logins::Transport;
use crate::server::{self, Server};
use crate::{Measured, Plan};

#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// Rounds per client count; each measures Beckon, the WS floor and the TCP floor.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,

    /// Client counts to measure at, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 10000])]
    pub clients: Vec<usize>,

    /// Seconds each invitation phase runs (flat out, then the fixed rate).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,

    /// Invitations per second of the fixed-rate latency phase.
    #[arg(long, default_value_t = 5000)]
    pub rate: u32,

    /// Connect-and-login attempts in flight at once.
    #[arg(long, default_value_t = 200)]
    pub login_concurrency: usize,

    /// Spread client source addresses over 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub source_ips: u8,

    /// The Beckon server binary; defaults to `beckon-server` next to this executable.
    /// It runs with `--sync full`: every invitation is fsynced before it is answered.
    #[arg(long)]
    pub server_bin: Option<PathBuf>,

    /// Seconds to wait for each server or floor to start.
    #[arg(long, default_value_t = 15)]
    pub startup_timeout: u64,

    /// Seconds between measurements, so one's closing connections and exiting server are
    /// not part of the next.
    #[arg(long, default_value_t = 2)]
    pub pause: u64,
}

pub async fn main(args: &TableArgs) -> Result<()> {
    let most = args.clients.iter().copied().max().unwrap_or(0);
    crate::raise_open_file_limit(most as u64 + crate::SPARE_FILES)?;
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => server::default_binary()?,
    };
    let load_before = load_average();
    let mut results: BTreeMap<(usize, usize), Vec<Measured>> = BTreeMap::new();
    let interrupted = tokio::select! {
        outcome = measure_all(args, &bin, &mut results) => outcome.map(|()| None)?,
        signal = crate::interrupted() => Some(signal),
    };
    println!();
    println!("{}", machine(&load_before));
    if let Some(signal) = interrupted {
        println!("stopped by {signal}: the table has the measurements made so far");
    }
    println!(
        "{} round(s), interleaved Beckon / WS floor / TCP floor; {} s per phase; fixed rate {}/s; medians, [min-max] over rounds",
        args.rounds, args.duration, args.rate
    );
    for &n in &args.clients {
        println!();
        print_table(args, n, &results);
    }
    Ok(())
}

async fn measure_all(
    args: &TableArgs,
    bin: &std::path::Path,
    results: &mut BTreeMap<(usize, usize), Vec<Measured>>,
) -> Result<()> {
    let startup = Duration::from_secs(args.startup_timeout);
    for &n in &args.clients {
        for round in 1..=args.rounds {
            for (t, target) in Target::ALL.into_iter().enumerate() {
                println!(
                    "\n== N = {n}, round {round}/{}: {} ==",
                    args.rounds,
                    target.name()
                );
                let mut server = match target {
                    Target::Beckon => {
                        let sync = ["--sync".to_string(), "full".to_string()];
                        Server::start(bin, true, &sync, None, startup).await?
                    }
                    Target::FloorWs => Server::start_floor(Transport::Ws, startup).await?,
                    Target::FloorTcp => Server::start_floor(Transport::Tcp, startup).await?,
                };
                let plan = Plan {
                    target,
                    clients: n,
                    duration: args.duration,
                    rate: args.rate,
                    login_concurrency: args.login_concurrency,
                    answer: Answer::Reject,
                    invite_timeout: 60,
                    source_ips: args.source_ips,
                };
                let measured = crate::run(&plan, &server).await;
                let died = server.exited();
                server.stop();
                match (measured, died) {
                    (Ok(m), None) => results.entry((n, t)).or_default().push(m),
                    (Ok(_), Some(how)) => {
                        println!("{} exited during the run: {how}", target.name())
                    }
                    (Err(e), died) => {
                        let how = died
                            .map(|d| format!(" (it exited: {d})"))
                            .unwrap_or_default();
                        println!("{} run failed: {e:#}{how}", target.name());
                    }
                }
                tokio::time::sleep(Duration::from_secs(args.pause)).await;
            }
        }
    }
    Ok(())
}

/// One row: a label, how to read the figure from a run, and how many decimals to show.
struct Row {
    label: String,
    value: fn(&Measured) -> Option<f64>,
    decimals: usize,
}

fn print_table(args: &TableArgs, n: usize, results: &BTreeMap<(usize, usize), Vec<Measured>>) {
    let rate = args.rate;
    let rows = [
        Row {
            label: "server CPU per invitation, max load (µs)".into(),
            value: |m| m.max_cpu_us,
            decimals: 0,
        },
        Row {
            label: format!("server CPU per invitation at {rate}/s (µs)"),
            value: |m| m.paced.as_ref()?.cpu_us,
            decimals: 0,
        },
        Row {
            label: "max invitations/s".into(),
            value: |m| Some(m.max_per_sec),
            decimals: 0,
        },
        Row {
            label: format!("p99 invite->received at {rate}/s (ms)"),
            value: |m| m.paced.as_ref().map(|p| p.p99_ms),
            decimals: 2,
        },
        Row {
            label: format!("achieved rate in the {rate}/s phase"),
            value: |m| m.paced.as_ref().map(|p| p.per_sec),
            decimals: 0,
        },
        Row {
            label: "memory per idle logged-in connection (KiB)".into(),
            value: |m| m.mem_per_conn_kib,
            decimals: 1,
        },
        Row {
            label: "accept-queue overflows (whole run)".into(),
            value: |m| m.overflows.map(|o| o as f64),
            decimals: 0,
        },
        Row {
            label: "errors (both invitation phases)".into(),
            value: |m| Some(m.errors as f64),
            decimals: 0,
        },
    ];
    println!(
        "| N = {n} | Beckon (--sync full) | WS floor | TCP floor | Beckon / WS floor | Beckon / TCP floor |"
    );
    println!("|---|---|---|---|---|---|");
    let mut medians = BTreeMap::new();
    for (r, row) in rows.iter().enumerate() {
        let mut cells = Vec::new();
        for t in 0..Target::ALL.len() {
            let runs = results.get(&(n, t)).map_or(&[][..], Vec::as_slice);
            let values: Vec<f64> = runs
                .iter()
                .filter_map(row.value)
                .filter(|v| v.is_finite())
                .collect();
            let med = median(&values);
            medians.insert((r, t), med);
            cells.push(cell(&values, med, row.decimals, args.rounds > 1));
        }
        let ratio = |t: usize| match (medians[&(r, 0)], medians[&(r, t)]) {
            (Some(b), Some(f)) if f > 0.0 => format!("{:.2}x", b / f),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.label,
            cells[0],
            cells[1],
            cells[2],
            ratio(1),
            ratio(2)
        );
    }
    let get = |r: usize, t: usize| medians.get(&(r, t)).copied().flatten();
    let goal = |what: &str, ok: Option<bool>| {
        let verdict = match ok {
            Some(true) => "met",
            Some(false) => "not met",
            None => "not measured",
        };
        println!("goal: {what}: {verdict}");
    };
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let cpu = ratio(get(0, 0), get(0, 1));
    goal(
        &format!(
            "server CPU per invitation <= 2x the WS floor (N = {n}: {})",
            shown_ratio(cpu)
        ),
        cpu.map(|r| r <= 2.0),
    );
    let max = ratio(get(2, 0), get(2, 1));
    goal(
        &format!(
            "durable invitations/s >= 0.6x the WS floor's maximum (N = {n}: {})",
            shown_ratio(max)
        ),
        max.map(|r| r >= 0.6),
    );
    let p99 = ratio(get(3, 0), get(3, 2));
    goal(
        &format!(
            "p99 invite->received at {rate}/s <= 4x the TCP floor (N = {n}: {})",
            shown_ratio(p99)
        ),
        p99.map(|r| r <= 4.0),
    );
    let mem = get(5, 0);
    goal(
        &format!(
            "server memory per idle connection <= 6 KiB (N = {n}: {})",
            mem.map_or("n/a".into(), |m| format!("{m:.1} KiB"))
        ),
        mem.map(|m| m <= 6.0),
    );
}

fn shown_ratio(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}x"))
}

fn cell(values: &[f64], median: Option<f64>, decimals: usize, range: bool) -> String {
    let Some(median) = median else {
        return "-".into();
    };
    let f = |v: f64| format!("{v:.decimals$}");
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if range && values.len() > 1 {
        format!("{} [{}-{}]", f(median), f(lo), f(hi))
    } else {
        f(median)
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

/// The machine the numbers belong to: when, which CPU, how many cores, how busy.
fn machine(load_before: &str) -> String {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown date".into(), |d| d.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            let line = c.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |k| k.trim().to_string());
    format!(
        "machine: {date}; {cores} cores (nproc), {cpu}; Linux {kernel}; load average {load_before} before, {} after",
        load_average()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(cell(&[1.0, 3.0, 2.0], Some(2.0), 1, true), "2.0 [1.0-3.0]");
        assert_eq!(cell(&[2.0], Some(2.0), 0, true), "2");
    }
}
