use std::path::PathBuf;

use clap::Args;

use crate::args::Answer;

/// The soak's knobs. Every abuser count is bounded here, so a run can never aim more than
/// a few hundred connections at the server.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Seconds of abuse (the "during" phase).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,

    /// Seconds the healthy pair calls before any abuse (the "before" phase).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub before: u64,

    /// Calls per second the healthy pair makes (invite, ring, answer, end). Kept well under
    /// the per-connection request limit so the pair measures the server, not its limiter.
    #[arg(long, default_value_t = 20.0)]
    pub healthy_rate: f64,

    /// What the healthy pair's invitee does with each invitation.
    #[arg(long, value_enum, default_value_t = Answer::Accept)]
    pub answer: Answer,

    /// Fuzzing connections: mutated and wrong-typed JSON, invalid UTF-8, binary frames,
    /// reserved opcodes, oversized frames.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub fuzz: u32,

    /// Frames per second each fuzzing connection sends.
    #[arg(long, default_value_t = 40)]
    pub fuzz_rate: u32,

    /// Flooding connections, a third each sending pings, heartbeat requests and empty
    /// continuation frames as fast as they can.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub flood: u32,

    /// Source addresses the abusers spread over, 127.0.0.2 onwards, each a host of its own
    /// to the server. One host meets the per-address connection rate at once; many get
    /// past it, so the defences behind it (frame rate, login deadline, byte-bounded queues)
    /// are soaked too.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub abuse_hosts: u8,
    /// The abusers' CPU priority. `idle` (Linux SCHED_IDLE) lets the bench's own frame
    /// making run only on CPU time nobody else wants: real abusers bring their own CPU,
    /// and on a small machine the generator would otherwise preempt the server and the
    /// pair and be measured as the server's tail. `normal` measures that competition.
    #[arg(long, value_enum, default_value_t = AbuserPriority::Idle)]
    pub abuser_priority: AbuserPriority,
    /// Slowloris connections: three quarters trickle an HTTP upgrade request a byte at a
    /// time, the rest upgrade and never log in (half of those send heartbeats).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub slowloris: u32,

    /// Milliseconds between the bytes of a trickled upgrade request.
    #[arg(long, default_value_t = 1000)]
    pub trickle_ms: u64,

    /// Logged-in connections that query a 100-call history over and over and never read.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub query: u32,

    /// History queries per second each query connection sends (just under the
    /// per-connection request limit).
    #[arg(long, default_value_t = 45)]
    pub query_rate: u32,

    /// The abuse phase ends early if the server's RSS passes this many MB, so an unbounded
    /// server cannot take the machine down with it. The report says so.
    #[arg(long, default_value_t = 2000)]
    pub max_server_rss_mb: u64,

    /// Seed for the fuzzer; random if absent (the report prints it for a rerun).
    #[arg(long)]
    pub seed: Option<u64>,

    /// The server binary to start; defaults to `beckon-server` next to this executable.
    #[arg(long)]
    pub server_bin: Option<PathBuf>,

    /// Extra argument for the started server (repeatable), e.g. `--server-arg=--flag`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    pub server_args: Vec<String>,

    /// Where the server's output goes; by default a file in the temporary directory,
    /// shown if the server fails.
    #[arg(long)]
    pub server_log: Option<PathBuf>,

    /// Seconds to wait for the started server to answer /healthz.
    #[arg(long, default_value_t = 15)]
    pub startup_timeout: u64,
}

impl SoakArgs {
    pub fn abusive_connections(&self) -> u64 {
        u64::from(self.fuzz + self.flood + self.slowloris + self.query)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AbuserPriority {
    Idle,
    Normal,
}
