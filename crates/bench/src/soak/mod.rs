//! `beckon-bench soak`: a release server under fuzz, flood, slowloris and history-query
//! abuse while a healthy pair keeps calling. The pair's latency before the abuse is the
//! yardstick for its latency during it; the server's memory is sampled throughout.
//!
//! The abusers run on a runtime of their own, on one thread, so however hard they push
//! they cannot take more than one core from the healthy pair's client and the server.

mod args;
mod flood;
mod fuzz;
mod memory;
mod query;
mod slowloris;
mod table;
mod tally;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::watch;
use tokio::task::JoinSet;

use args::AbuserPriority;
pub use args::SoakArgs;
use memory::{Phase, Sampler};
use table::{Healthy, Memory, Report};
use tally::Stats;

use crate::invites::{self, Pacing, Pair, PhaseResult, Settings};
use crate::logins::{self, Registry};
use crate::server::{self, Server};
use crate::{keepalive, report};

/// Files the bench needs besides the abusers' sockets.
const SPARE_FILES: u64 = 128;
/// Slowloris connections open over this long rather than all at once.
const SLOWLORIS_RAMP: Duration = Duration::from_secs(1);
/// After the stop signal, abusers get this long to hand back their counts.
const ABUSE_WIND_DOWN: Duration = Duration::from_secs(10);
/// Time for the server to release what the abusers held, before "after abuse" is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Progress lines during the abuse.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub async fn main(args: &SoakArgs) -> Result<()> {
    if !(args.healthy_rate > 0.0 && args.healthy_rate <= 45.0) {
        bail!("--healthy-rate must be above 0 and at most 45 (the server allows 50 requests/s)");
    }
    crate::raise_open_file_limit(args.abusive_connections() + SPARE_FILES)?;
    let bin = match &args.server_bin {
        Some(bin) => bin.clone(),
        None => server::default_binary()?,
    };
    let startup = Duration::from_secs(args.startup_timeout);
    // The server's own defaults, per-address connection rate included: the abusers come
    // from other loopback addresses, so the rate that refuses them is soaked too.
    let mut server = Server::start(
        &bin,
        false,
        &args.server_args,
        args.server_log.clone(),
        startup,
    )
    .await?;
    println!(
        "server: {} (pid {}, {})",
        server.url,
        server.pid.unwrap_or_default(),
        bin.display()
    );
    let outcome = tokio::select! {
        outcome = soak(args, &mut server) => outcome,
        signal = crate::interrupted() => Err(anyhow!("stopped by {signal}")),
    };
    server.stop();
    outcome
}

async fn soak(args: &SoakArgs, server: &mut Server) -> Result<()> {
    let (url, addr) = (server.url.clone(), server.addr);
    let pid = server.pid.context("the started server has no pid")?;
    let seed = args.seed.unwrap_or_else(rand::random);
    println!("fuzz seed: {seed} (rerun with --seed {seed})");
    let start_kib = server.rss_kib().unwrap_or_default();

    if args.query > 0 {
        let history = query::build_history(&url, addr, args.query).await?;
        println!(
            "history: {} calls in each query user's answer, {} KB of JSON per answer",
            history.calls,
            history.answer_bytes / 1000
        );
    }

    let registry = Registry::new();
    let caller = logins::login_user(&url, addr, "u0").await?;
    let invitee = logins::login_user(&url, addr, "u1").await?;
    if let Ok(mut all) = registry.clients.lock() {
        all.extend([caller.wire.clone(), invitee.wire.clone()]);
    }
    let keepalive = keepalive::spawn(registry);
    let settings = |secs: u64| Settings {
        duration: Duration::from_secs(secs),
        answer: args.answer,
        invite_timeout: 60,
        extended_data_bytes: 0,
    };
    let pacing = Pacing::Rate(args.healthy_rate);

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let sampler = Sampler::spawn(
        pid,
        args.max_server_rss_mb * 1_000_000 / 1024,
        stop_tx.clone(),
    );

    println!(
        "before: {} s, the healthy pair alone at {} calls/s",
        args.before, args.healthy_rate
    );
    let cpu_at_start = CpuMark::now(pid);
    let (pairs, before) = invites::run(
        vec![Pair { caller, invitee }],
        pacing,
        settings(args.before),
    )
    .await;
    println!("before: {}", report::percentiles(&before.latency));
    if pairs.is_empty() {
        bail!(
            "the healthy pair failed before any abuse: {:?}",
            before.errors
        );
    }

    let hosts = tally::use_hosts(args.abuse_hosts);
    println!(
        "during: {} s of abuse from {}: {} fuzz, {} flood, {} slowloris, {} query connections \
         (abusers at {:?} CPU priority)",
        args.duration,
        match hosts {
            [one] => one.to_string(),
            [first, .., last] => format!("{} hosts, {first} to {last}", hosts.len()),
            [] => "127.0.0.1".into(),
        },
        args.fuzz,
        args.flood,
        args.slowloris,
        args.query,
        args.abuser_priority
    );
    let cpu_before = cpu_at_start.until_now(pid);
    sampler.set_phase(Phase::During);
    let cpu_at_abuse = CpuMark::now(pid);
    let abuse_started = Instant::now();
    let abusers = spawn_abusers(args.clone(), addr, seed, stop_rx)?;
    let progress = {
        let peaks = sampler.peaks_handle();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let p = peaks();
                println!(
                    "  {:>4.0} s: server RSS {:.1} MB (peak {:.1} MB)",
                    abuse_started.elapsed().as_secs_f64(),
                    p.last_kib as f64 * 1.024 / 1000.0,
                    p.during_kib as f64 * 1.024 / 1000.0
                );
            }
        })
    };
    let (pairs, during) = invites::run(pairs, pacing, settings(args.duration)).await;
    let cpu_during = cpu_at_abuse.until_now(pid);
    stop_tx.send_replace(true);
    progress.abort();
    let abuse_secs = abuse_started.elapsed().as_secs_f64();
    let abuse = tokio::task::spawn_blocking(move || abusers.join())
        .await?
        .map_err(|_| anyhow!("the abuse thread panicked"))?;
    println!("during: {}", report::percentiles(&during.latency));
    // Both share the machine's cores: the bench's share (abusers and pair) is what the
    // server could not have, which matters when reading the pair's latency during abuse.
    for (phase, cpu) in [("before", cpu_before), ("during", cpu_during)] {
        if let Some((server, bench)) = cpu {
            println!(
                "{phase}: CPU in cores: server {server:.2}, bench {bench:.2} (of {})",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
        }
    }
    sampler.set_phase(Phase::After);
    tokio::time::sleep(SETTLE).await;

    let peaks = sampler.peaks();
    let capped = peaks.capped_at.map(|at| (at, args.max_server_rss_mb));
    let report = Report {
        before: healthy(args.before, &before),
        during: healthy(args.duration, &during),
        memory: Some(Memory {
            start_kib,
            peak_before_kib: peaks.before_kib,
            peak_during_kib: peaks.during_kib,
            hwm_kib: server.status_kib("VmHWM:"),
            after_kib: server.rss_kib().unwrap_or(peaks.last_kib),
        }),
        abuse,
        abuse_secs: capped.map_or(abuse_secs, |(at, _)| at),
        capped,
    };
    println!();
    print!("{}", table::render(&report));

    keepalive.abort();
    for pair in pairs {
        pair.caller.wire.close().await;
        pair.invitee.wire.close().await;
    }
    if let Some(exit) = server.exited() {
        bail!("the server exited during the soak: {exit}");
    }
    let errors = before.errors.values().sum::<u64>() + during.errors.values().sum::<u64>();
    if errors > 0 || before.completed == 0 || during.completed == 0 {
        report::errors("healthy pair before abuse", &before.errors);
        report::errors("healthy pair during abuse", &during.errors);
        bail!("the healthy pair's calls failed ({errors} errors)");
    }
    Ok(())
}

fn healthy(secs: u64, phase: &PhaseResult) -> Healthy {
    Healthy {
        secs,
        calls: phase.completed,
        errors: phase.errors.values().sum(),
        latency: phase.latency.clone(),
    }
}

type AbuseTotals = Vec<(&'static str, Stats)>;

/// Starts every abuser on its own one-thread runtime; the thread ends once `stop` is set
/// (or dropped) and the abusers have handed back their counts.
fn spawn_abusers(
    args: SoakArgs,
    addr: SocketAddr,
    seed: u64,
    stop: watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<AbuseTotals>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the abusers' runtime")?;
    std::thread::Builder::new()
        .name("soak-abusers".into())
        .spawn(move || {
            if args.abuser_priority == AbuserPriority::Idle {
                lower_this_thread();
            }
            runtime.block_on(run_abusers(args, addr, seed, stop))
        })
        .context("starting the abusers' thread")
}

/// Puts the calling thread in SCHED_IDLE: it runs only when a core would otherwise idle.
#[cfg(target_os = "linux")]
fn lower_this_thread() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 names the calling thread; `param` is a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        eprintln!(
            "soak: cannot lower the abusers' priority ({}); they compete for CPU",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread() {
    eprintln!("soak: idle priority is Linux-only; the abusers compete for CPU");
}

async fn run_abusers(
    args: SoakArgs,
    addr: SocketAddr,
    seed: u64,
    stop: watch::Receiver<bool>,
) -> AbuseTotals {
    let mut fuzzers = JoinSet::new();
    for i in 0..args.fuzz {
        fuzzers.spawn(fuzz::worker(addr, i, args.fuzz_rate, seed, stop.clone()));
    }
    let mut flooders = JoinSet::new();
    for i in 0..args.flood {
        let mode = flood::Mode::for_index(i);
        flooders.spawn(flood::worker(addr, mode, stop.clone()));
    }
    let mut lorises = JoinSet::new();
    let trickle = Duration::from_millis(args.trickle_ms.max(1));
    for i in 0..args.slowloris {
        let mode = slowloris::Mode::for_index(i, args.slowloris);
        let delay = SLOWLORIS_RAMP.mul_f64(f64::from(i) / f64::from(args.slowloris));
        let mut stop = stop.clone();
        lorises.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => slowloris::worker(addr, mode, trickle, stop).await,
                _ = tally::stopped(&mut stop) => Stats::default(),
            }
        });
    }
    let mut queriers = JoinSet::new();
    for i in 0..args.query {
        queriers.spawn(query::worker(addr, i, args.query_rate, stop.clone()));
    }
    let mut stopped = stop.clone();
    tally::stopped(&mut stopped).await;
    let deadline = tokio::time::Instant::now() + ABUSE_WIND_DOWN;
    let mut totals = Vec::new();
    for (name, set) in [
        ("fuzz", fuzzers),
        ("flood", flooders),
        ("slowloris", lorises),
        ("query", queriers),
    ] {
        totals.push((name, collect(set, deadline).await));
    }
    totals
}

/// Sums a set's counts; a worker still running at the deadline is aborted and its counts
/// are lost (the report's numbers are then a lower bound).
async fn collect(mut set: JoinSet<Stats>, deadline: tokio::time::Instant) -> Stats {
    let mut total = Stats::default();
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, set.join_next()).await {
        if let Ok(stats) = joined {
            total.merge(stats);
        }
    }
    if !set.is_empty() {
        eprintln!("warning: {} abusers did not stop in time", set.len());
    }
    total
}

/// CPU time used by the server and by this bench at one moment.
struct CpuMark {
    at: Instant,
    server: Option<f64>,
    bench: Option<f64>,
}

impl CpuMark {
    fn now(server_pid: u32) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            server: server::cpu_secs(Some(server_pid)),
            bench: server::cpu_secs(None),
        }
    }

    /// Cores used on average since the mark: (server, bench).
    fn until_now(&self, server_pid: u32) -> Option<(f64, f64)> {
        let now = CpuMark::now(server_pid);
        let secs = now.at.duration_since(self.at).as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        Some((
            (now.server? - self.server?) / secs,
            (now.bench? - self.bench?) / secs,
        ))
    }
}
