//! `beckon-bench`: load generator for beckon-server. See `beckon-bench --help`.

mod args;
mod floor;
mod invites;
mod keepalive;
mod logins;
mod netstat;
mod report;
mod server;
mod soak;
mod table;
mod tcp_wire;
mod wire;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tokio::task::JoinSet;

use args::{Answer, Args, Target};
use invites::{Pacing, Pair, PhaseResult, Settings};
use logins::{Client, Registry, Transport};
use server::Server;

/// Sockets the bench needs besides one per client (runtime, stdio, health checks).
const SPARE_FILES: u64 = 64;
/// Requests per second per connection the server allows (protocol limits); a paced
/// phase above it would measure the rate limiter, not the server.
const PER_CONNECTION_RATE: f64 = beckon_protocol::limits::REQUESTS_PER_SEC as f64;
/// Longer than the server's gauge interval (1 s), so gauges read after it are current.
const GAUGE_REFRESH: Duration = Duration::from_millis(1500);

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    match &args.command {
        Some(args::Command::Soak(soak)) => return soak::main(soak).await,
        Some(args::Command::Floor(floor)) => return floor::main(floor).await,
        Some(args::Command::Table(table)) => return table::main(table).await,
        None => {}
    }
    let plan = Plan {
        target: args.target,
        clients: args.clients,
        duration: args.duration,
        rate: args.rate,
        login_concurrency: args.login_concurrency,
        answer: args.answer,
        invite_timeout: args.invite_timeout,
        source_ips: args.source_ips,
    };
    plan.check()?;
    // Before starting the server, which inherits the raised limit and needs as many files.
    raise_open_file_limit(args.clients as u64 + SPARE_FILES)?;
    let startup = Duration::from_secs(args.startup_timeout);
    let mut server = match (args.url.is_empty(), args.target) {
        (false, Target::Beckon) => Server::existing(&args.url, args.server_pid)?,
        (false, _) => {
            bail!("--url is for a running Beckon server; the bench starts floors itself")
        }
        (true, Target::Beckon) => {
            let bin = match &args.server_bin {
                Some(bin) => bin.clone(),
                None => server::default_binary()?,
            };
            Server::start(
                &bin,
                true,
                &args.server_args,
                args.server_log.clone(),
                startup,
            )
            .await?
        }
        (true, Target::FloorWs) => Server::start_floor(Transport::Ws, startup).await?,
        (true, Target::FloorTcp) => Server::start_floor(Transport::Tcp, startup).await?,
    };
    match server.pid {
        Some(pid) => println!("server: {} (pid {pid})", server.url),
        None => println!("server: {} (pid unknown: memory not measured)", server.url),
    }
    // On Ctrl-C or SIGTERM the run is abandoned but the server we started is still killed,
    // rather than left behind listening.
    let outcome = tokio::select! {
        outcome = run(&plan, &server) => outcome.map(drop),
        signal = interrupted() => Err(anyhow::anyhow!("stopped by {signal}")),
    };
    server.stop();
    outcome
}

/// One measurement's settings, from the command line or from `table`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub target: Target,
    pub clients: usize,
    pub duration: u64,
    pub rate: u32,
    pub login_concurrency: usize,
    pub answer: Answer,
    pub invite_timeout: u32,
    pub source_ips: u8,
}

impl Plan {
    fn check(&self) -> Result<()> {
        if self.clients < 2 {
            bail!("--clients must be at least 2: clients are paired as caller and invitee");
        }
        if self.duration == 0 {
            bail!("--duration must be at least 1 second");
        }
        Ok(())
    }

    fn transport(&self) -> Transport {
        match self.target {
            Target::FloorTcp => Transport::Tcp,
            Target::Beckon | Target::FloorWs => Transport::Ws,
        }
    }
}

/// What one measurement found, for `table`.
pub struct Measured {
    /// Server memory per idle logged-in connection.
    pub mem_per_conn_kib: Option<f64>,
    pub max_per_sec: f64,
    /// Server CPU time over the flat-out phase divided by the invitations it completed.
    pub max_cpu_us: Option<f64>,
    /// The fixed-rate phase, if it ran.
    pub paced: Option<Paced>,
    /// Accept-queue overflows over the whole run (host-wide), if readable.
    pub overflows: Option<u64>,
    /// Failed requests and unanswered invitations over both invitation phases.
    pub errors: u64,
}

pub struct Paced {
    pub p99_ms: f64,
    pub per_sec: f64,
    pub cpu_us: Option<f64>,
}

/// Server and bench CPU over one invitation phase, read at its start and at its deadline
/// (not when its stragglers finish), so it covers the invitations the phase counts.
struct CpuWindow {
    server: Option<f64>,
    bench: Option<f64>,
    end: tokio::task::JoinHandle<(Option<f64>, Option<f64>)>,
}

impl CpuWindow {
    fn begin(pid: Option<u32>, duration: Duration) -> CpuWindow {
        let (server, bench) = (
            pid.and_then(|p| server::cpu_secs(Some(p))),
            server::cpu_secs(None),
        );
        let end = tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            (
                pid.and_then(|p| server::cpu_secs(Some(p))),
                server::cpu_secs(None),
            )
        });
        CpuWindow { server, bench, end }
    }

    /// Server µs per invitation, and a line with it and the cores server and bench used.
    async fn end(self, invitations: u64, duration: Duration) -> (Option<f64>, String) {
        let (server, bench) = self.end.await.unwrap_or((None, None));
        let secs = duration.as_secs_f64().max(1e-9);
        let server = server.zip(self.server).map(|(b, a)| b - a);
        let bench = bench.zip(self.bench).map(|(b, a)| b - a);
        let per_inv = server
            .filter(|_| invitations > 0)
            .map(|s| s * 1e6 / invitations as f64);
        let cores = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.2}", v / secs));
        let line = format!(
            "{} µs per invitation; server {} cores, bench {} cores",
            per_inv.map_or("n/a".into(), |v| format!("{v:.1}")),
            cores(server),
            cores(bench)
        );
        (per_inv, line)
    }
}

pub(crate) async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn raise_open_file_limit(needed: u64) -> Result<()> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    if limit < needed {
        bail!(
            "the open-file limit is {limit} but {needed} are needed; lower --clients or raise \
             the hard limit (ulimit -Hn)"
        );
    }
    println!("open-file limit: {limit}");
    Ok(())
}

pub async fn run(args: &Plan, server: &Server) -> Result<Measured> {
    let sources = logins::source_addresses(args.source_ips);
    let registry = Registry::new();
    let keepalive = keepalive::spawn(registry.clone());

    // Phase 1: logins, and the memory they cost the server.
    let rss_before = server.rss_kib();
    let accept = netstat::Phase::begin();
    let logins = logins::login_all(
        &server.endpoints(),
        args.transport(),
        args.clients,
        args.login_concurrency,
        &sources,
        &registry,
    )
    .await?;
    let n = logins.clients.len();
    let logins_per_sec = n as f64 / logins.elapsed.as_secs_f64().max(1e-9);
    println!(
        "logins/s: {logins_per_sec:.0} ({n} clients in {:.2} s, {} source addresses, {} in flight)",
        logins.elapsed.as_secs_f64(),
        sources.len(),
        args.login_concurrency
    );
    let login_overflows = accept.end();
    println!("{}", netstat::line("logins", login_overflows));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let memory = match (rss_before, server.rss_kib()) {
        (Some(before), Some(after)) => {
            let per_conn = after.saturating_sub(before) as f64 / n as f64;
            println!(
                "server memory per idle connection: {per_conn:.1} KiB (RSS {before} KiB before, {after} KiB after)"
            );
            Some(per_conn)
        }
        _ => {
            println!("server memory per idle connection: not measured (no server pid)");
            None
        }
    };

    let (mut pairs, idle) = pair_up(logins.clients);
    let settings = Settings {
        duration: Duration::from_secs(args.duration),
        answer: args.answer,
        invite_timeout: args.invite_timeout,
        extended_data_bytes: 0,
    };

    // Phase 2: every pair flat out.
    let accept = netstat::Phase::begin();
    let cpu = CpuWindow::begin(server.pid, settings.duration);
    let (back, max) = invites::run(pairs, Pacing::FlatOut, settings).await;
    pairs = back;
    let max_overflows = accept.end();
    let (max_cpu_us, cpu_line) = cpu.end(max.completed, settings.duration).await;
    println!(
        "invitations/s (max): {:.0} ({} pairs)",
        max.per_sec(),
        pairs.len()
    );
    println!("server CPU at max load: {cpu_line}");
    println!(
        "invite->received latency at max load: {}",
        report::percentiles(&max.latency)
    );
    report::errors("max-load", &max.errors);
    println!("{}", netstat::line("max load", max_overflows));

    // Phase 3: a fixed rate, to see latency when the server is not saturated.
    let paced = if args.rate > 0 {
        let rate = f64::from(args.rate);
        if rate / pairs.len() as f64 > PER_CONNECTION_RATE * 0.9 {
            println!(
                "note: {rate}/s over {} pairs is near the server's per-connection limit of {PER_CONNECTION_RATE}/s; use more --clients",
                pairs.len()
            );
        }
        let accept = netstat::Phase::begin();
        let cpu = CpuWindow::begin(server.pid, settings.duration);
        let (back, paced) = invites::run(pairs, Pacing::Rate(rate), settings).await;
        pairs = back;
        let overflows = accept.end();
        let (cpu_us, cpu_line) = cpu.end(paced.completed, settings.duration).await;
        println!(
            "invite->received latency at {}/s: {} (achieved {:.0}/s)",
            args.rate,
            report::percentiles(&paced.latency),
            paced.per_sec()
        );
        println!("server CPU at {}/s: {cpu_line}", args.rate);
        report::errors("fixed-rate", &paced.errors);
        println!("{}", netstat::line("the fixed rate", overflows));
        Some((paced, overflows, cpu_us))
    } else {
        None
    };

    // Every call has ended by now; a timer still held is one nothing needs any more.
    // The server publishes its gauges once a second. Only Beckon has timers to report.
    if args.target == Target::Beckon {
        tokio::time::sleep(GAUGE_REFRESH).await;
        let timers = server.metric("beckon_pending_timers").await;
        let live = server.metric("beckon_calls{state=\"started\"}").await;
        let shown = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0}"));
        println!(
            "server pending timers after the phases: {} (live calls {})",
            shown(timers),
            shown(live)
        );
    }

    let phases = [
        login_overflows,
        max_overflows,
        paced.as_ref().and_then(|p| p.1),
    ];
    let overflows = phases.map(netstat::short).join("/");
    let total_overflows = phases
        .iter()
        .take(if paced.is_some() { 3 } else { 2 })
        .try_fold(0, |sum, p| p.map(|p| sum + p.overflows));
    println!(
        "{}",
        summary(
            args,
            logins_per_sec,
            memory,
            &max,
            paced.as_ref().map(|p| &p.0),
            &overflows
        )
    );
    let errors = |p: &PhaseResult| p.errors.values().sum::<u64>();
    let measured = Measured {
        mem_per_conn_kib: memory,
        max_per_sec: max.per_sec(),
        max_cpu_us,
        errors: errors(&max) + paced.as_ref().map_or(0, |p| errors(&p.0)),
        paced: paced.map(|(p, _, cpu_us)| Paced {
            p99_ms: if p.latency.is_empty() {
                f64::NAN
            } else {
                p.latency.value_at_quantile(0.99) as f64 / 1000.0
            },
            per_sec: p.per_sec(),
            cpu_us,
        }),
        overflows: total_overflows,
    };

    keepalive.abort();
    close_all(pairs, idle).await;
    Ok(measured)
}

/// u0 calls u1, u2 calls u3, ...; with an odd count the last client stays idle (but
/// connected, so the memory figure still holds).
fn pair_up(clients: Vec<Client>) -> (Vec<Pair>, Vec<Client>) {
    let mut pairs = Vec::with_capacity(clients.len() / 2);
    let mut it = clients.into_iter();
    let mut idle = Vec::new();
    while let Some(caller) = it.next() {
        match it.next() {
            Some(invitee) => pairs.push(Pair { caller, invitee }),
            None => idle.push(caller),
        }
    }
    (pairs, idle)
}

fn summary(
    args: &Plan,
    logins_per_sec: f64,
    memory: Option<f64>,
    max: &PhaseResult,
    paced: Option<&PhaseResult>,
    overflows: &str,
) -> String {
    let memory = memory.map_or("n/a".into(), |m| format!("{m:.1} KiB"));
    let paced = paced.map_or("skipped".into(), |p| {
        if p.latency.is_empty() {
            "no samples".into()
        } else {
            format!(
                "p50 {} ms p99 {} ms p999 {} ms",
                report::ms(p.latency.value_at_quantile(0.5)),
                report::ms(p.latency.value_at_quantile(0.99)),
                report::ms(p.latency.value_at_quantile(0.999))
            )
        }
    });
    format!(
        "summary: clients {} | logins/s {logins_per_sec:.0} | mem/conn {memory} | invitations/s {:.0} | latency at {}/s {paced} | accept-queue overflows logins/max/fixed {overflows} | target {}",
        args.clients,
        max.per_sec(),
        args.rate,
        args.target.name()
    )
}

/// Closes every connection at once, bounded in time, so the server sees clean closes
/// rather than resets when it is not ours to kill.
async fn close_all(pairs: Vec<Pair>, idle: Vec<Client>) {
    let mut closing = JoinSet::new();
    let clients = pairs
        .into_iter()
        .flat_map(|p| [p.caller, p.invitee])
        .chain(idle);
    for client in clients {
        closing.spawn(async move { client.wire.close().await });
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), closing.join_all()).await;
}
