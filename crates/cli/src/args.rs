//! Command-line flags. Connection flags are global so they can follow the subcommand
//! (`beckon call bob --user alice`), and each has an environment fallback so a shell can
//! set them once.

use beckon_client::ClientConfig;
use beckon_protocol::limits::{MAX_ID_BYTES, MAX_QUERY_COUNT, MAX_TIMEOUT_SECS, MIN_TIMEOUT_SECS};
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit status:
  0  the call was answered (and has ended); `answer`: done, or quit with Ctrl-C
  1  error: bad arguments, cannot connect, the server refused
  2  declined
  3  busy
  4  no answer, or the callee could not be reached (`answer --once`: missed)
  5  cancelled: by you with Ctrl-C (`answer --once`: by the caller)
  6  the connection was lost";

#[derive(Debug, Parser)]
#[command(
    name = "beckon",
    version,
    about = "Make and answer Beckon calls from a terminal",
    long_about = "Make and answer Beckon calls from a terminal.\n\n\
        Progress is printed to stdout as it happens, one timestamped line per change; \
        errors go to stderr. Set RUST_LOG (e.g. RUST_LOG=debug) for diagnostics on stderr.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Call one or more users and wait until the call is over.
    #[command(after_help = EXIT_CODES)]
    Call(CallArgs),
    /// Wait for incoming calls and answer them.
    #[command(after_help = EXIT_CODES)]
    Answer(AnswerArgs),
    /// List recent calls, newest first.
    History(HistoryArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Server WebSocket URL.
    #[arg(
        long,
        global = true,
        env = "BECKON_SERVER",
        default_value = "ws://127.0.0.1:7070/ws"
    )]
    pub server: String,
    /// Your user ID (required).
    #[arg(long, global = true, env = "BECKON_USER")]
    pub user: Option<String>,
    /// The name the people you call see. Default: your user ID.
    #[arg(long, global = true, env = "BECKON_NAME")]
    pub name: Option<String>,
    /// Login token from `beckon-server token` (not needed on an open dev server).
    #[arg(long, global = true, env = "BECKON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Device ID [default: cli-<user>-<command>].
    ///
    /// One per command by default, so that `beckon history` or `beckon call` does not
    /// throw a running `beckon answer` of the same user off the server.
    #[arg(long, global = true, env = "BECKON_DEVICE")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// Who to call (more than one makes a group call).
    #[arg(required = true, value_name = "USER")]
    pub users: Vec<String>,
    /// Make a video call (the default is voice).
    #[arg(long)]
    pub video: bool,
    /// Seconds to ring before giving up.
    #[arg(long, default_value_t = 60, value_name = "S",
          value_parser = clap::value_parser!(u32).range(MIN_TIMEOUT_SECS as i64..=MAX_TIMEOUT_SECS as i64))]
    pub timeout: u32,
    /// Hang up this many seconds after the call is answered (for scripts and tests).
    #[arg(long, value_name = "S")]
    pub hangup_after: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct AnswerArgs {
    /// Accept every call at once, without asking.
    #[arg(long, conflicts_with = "auto_decline")]
    pub auto_accept: bool,
    /// Decline every call at once.
    #[arg(long)]
    pub auto_decline: bool,
    /// Exit after the first call is over; the exit status says how it went.
    #[arg(long)]
    pub once: bool,
    /// Hang up this many seconds after accepting (for scripts and tests).
    #[arg(long, value_name = "S")]
    pub hangup_after: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// How many calls to list.
    #[arg(long, short = 'n', default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=MAX_QUERY_COUNT as i64))]
    pub count: u32,
}

impl ConnArgs {
    /// The client settings for one subcommand; fails without a user ID, which clap cannot
    /// require because the flag is global.
    pub fn client_config(&self, command: &str) -> Result<ClientConfig, String> {
        let user = self
            .user
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or("who are you? Pass --user ID or set BECKON_USER")?;
        if !beckon_protocol::is_valid_id(user) {
            return Err(format!(
                "{user:?} is not a valid user ID (1 to {MAX_ID_BYTES} of A-Z a-z 0-9 _ . @ + -)"
            ));
        }
        let device = match &self.device {
            Some(d) => d.clone(),
            None => {
                let mut d = format!("cli-{user}-{command}");
                d.truncate(MAX_ID_BYTES);
                d
            }
        };
        let name = self.name.clone().unwrap_or_else(|| user.to_owned());
        Ok(ClientConfig::new(&self.server, user)
            .user_name(name)
            .token(self.token.clone().filter(|t| !t.is_empty()))
            .device_id(device))
    }
}
