use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Measures a Beckon server on this machine: login rate, memory per idle connection,
/// maximum invitation throughput, and invite-to-ring latency at a fixed rate.
///
/// By default it starts `beckon-server` itself (from next to this binary) on a free
/// loopback port with a throwaway database, and kills it at the end.
#[derive(Debug, Parser)]
#[command(name = "beckon-bench", version, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// What to measure: Beckon, or one of the floors it is compared with (see
    /// `beckon-bench floor --help`), started by the bench on a free loopback port.
    #[arg(long, value_enum, default_value_t = Target::Beckon)]
    pub target: Target,

    /// Simulated clients, each its own connection and user (u0, u1, ...).
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,

    /// Seconds each invitation phase runs.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,

    /// Invitations per second for the fixed-rate latency phase; 0 skips that phase.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,

    /// Connect-and-login attempts in flight at once.
    #[arg(long, default_value_t = 200)]
    pub login_concurrency: usize,

    /// What invitees do with each invitation. Either way the normal-mode call ends at once,
    /// so the caller can invite again.
    #[arg(long, value_enum, default_value_t = Answer::Reject)]
    pub answer: Answer,

    /// Invitation timeout in seconds sent with each callInvite.
    #[arg(long, default_value_t = 60)]
    pub invite_timeout: u32,

    /// Spread client source addresses over 127.0.0.1 ..= 127.0.0.N, so 10,000+
    /// connections do not run one address out of ephemeral ports.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub source_ips: u8,

    /// The server binary to start; defaults to `beckon-server` next to this executable.
    #[arg(long, conflicts_with = "url")]
    pub server_bin: Option<PathBuf>,

    /// Extra argument for the started server (repeatable), e.g. `--server-arg=--flag`.
    #[arg(
        long = "server-arg",
        allow_hyphen_values = true,
        conflicts_with = "url"
    )]
    pub server_args: Vec<String>,

    /// Where the started server's output goes; by default a file in the temporary
    /// directory, shown only if the server fails to start.
    #[arg(long, conflicts_with = "url")]
    pub server_log: Option<PathBuf>,

    /// Seconds to wait for the started server to answer /healthz.
    #[arg(long, default_value_t = 15)]
    pub startup_timeout: u64,

    /// Use an already running Beckon server instead, e.g. ws://127.0.0.1:8080/ws (loopback
    /// only). Repeat it for the nodes of a cluster: client i connects to the i-th URL
    /// round-robin, so a caller and its invitee sit on different nodes.
    #[arg(long)]
    pub url: Vec<String>,

    /// The already running server's process id, to measure its memory (one server only).
    #[arg(long, requires = "url")]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server and abuse it (fuzz, flood, slowloris, history queries) while a
    /// healthy pair makes calls; prints the pair's latency before and during, the server's
    /// peak memory, and the connections it refused or cut.
    Soak(crate::soak::SoakArgs),
    /// Serve as a floor: a minimal relay of the messages the bench sends, with no storage,
    /// over WebSocket or length-prefixed TCP. Runs until killed.
    Floor(crate::floor::FloorArgs),
    /// Measure Beckon (`--sync full`) and both floors in interleaved rounds, and print the
    /// medians side by side with Beckon's ratio to each floor.
    Table(crate::table::TableArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Beckon,
    FloorWs,
    FloorTcp,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Beckon, Target::FloorWs, Target::FloorTcp];

    pub fn name(self) -> &'static str {
        match self {
            Target::Beckon => "Beckon",
            Target::FloorWs => "WS floor",
            Target::FloorTcp => "TCP floor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    Reject,
    Accept,
}
