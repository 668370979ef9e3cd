//! Command-line flags (each with an environment fallback) and how they become a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use beckon_protocol::limits::DEFAULT_HEARTBEAT_TIMEOUT_MS;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::{self, AuthMode};
use crate::store::Durability;
use crate::Config;

#[derive(Debug, Parser)]
#[command(
    name = "beckon-server",
    version,
    about = "Beckon call-invitation server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Print a signed login token for a user.
    Token(TokenArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthFlag {
    /// Open on loopback addresses, tokens everywhere else.
    Auto,
    /// Anyone may log in as any user ID. For local development only.
    Open,
    /// Every login needs a token from `beckon-server token`.
    Token,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (WebSocket at /ws, plus /healthz and /metrics).
    #[arg(long, env = "BECKON_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, env = "BECKON_AUTH", value_enum, default_value_t = AuthFlag::Auto)]
    pub auth: AuthFlag,
    /// Allow open auth on a non-loopback address (anyone on the network can be anyone).
    /// From the environment: 1/0, yes/no, true/false, on/off.
    #[arg(
        long,
        env = "BECKON_ALLOW_OPEN_ON_PUBLIC",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_open_on_public: bool,
    /// Seconds of silence after which a session ends and its device counts as gone.
    #[arg(long, env = "BECKON_HEARTBEAT_TIMEOUT", default_value_t = DEFAULT_HEARTBEAT_TIMEOUT_MS / 1000)]
    pub heartbeat_timeout: u64,
    /// fsync every commit (full) or only at checkpoints (normal).
    #[arg(long, env = "BECKON_SYNC", value_enum, default_value_t = Durability::Full)]
    pub sync: Durability,
    /// Connections held at once, logged in or not; past it new ones get HTTP 503. Keep it
    /// below the process's open-file limit (`ulimit -n`).
    #[arg(long, env = "BECKON_MAX_CONNECTIONS", default_value_t = Config::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// New connections per second from one IP address (bursts of twice that); past it they
    /// get HTTP 429. 0: unlimited.
    #[arg(long, env = "BECKON_CONNECTIONS_PER_IP", default_value_t = Config::DEFAULT_CONNECTIONS_PER_IP_PER_SEC)]
    pub connections_per_ip: u32,
    /// Seconds a client has to send its HTTP request headers (also how long an idle HTTP
    /// connection is kept).
    #[arg(long, env = "BECKON_HEADER_TIMEOUT", default_value_t = Config::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_timeout: u64,
    /// Seconds from connecting to a successful login; heartbeats do not extend it.
    #[arg(long, env = "BECKON_LOGIN_TIMEOUT", default_value_t = Config::DEFAULT_LOGIN_TIMEOUT.as_secs())]
    pub login_timeout: u64,
    /// Seconds connections get to close on shutdown before they are dropped.
    #[arg(long, env = "BECKON_SHUTDOWN_TIMEOUT", default_value_t = Config::DEFAULT_SHUTDOWN_DEADLINE.as_secs())]
    pub shutdown_timeout: u64,
    /// MiB queued for all clients together; past it, clients that are behind are cut as
    /// slow consumers.
    #[arg(long, env = "BECKON_OUTBOUND_BUDGET_MB", default_value_t = Config::DEFAULT_OUTBOUND_BUDGET_BYTES / (1024 * 1024))]
    pub outbound_budget_mb: usize,
    /// Log filter, e.g. `info` or `beckon_server=debug`.
    #[arg(long, env = "BECKON_LOG", default_value = "info")]
    pub log: String,
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// SQLite database file. Default: beckon.db in the user's data directory.
    #[arg(long, env = "BECKON_DB")]
    pub db: Option<PathBuf>,
    /// Token-signing secret. Default: kept in a `secret` file beside the database,
    /// created on first use.
    #[arg(long, env = "BECKON_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The user ID the token lets its bearer log in as.
    #[arg(long)]
    pub user: String,
    /// How long the token is valid, e.g. `24h`, `30d`.
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "refusing open auth on {0}: anyone could log in as anyone. Use --auth token, \
         or --allow-open-on-public if this network is trusted"
    )]
    OpenOnPublic(SocketAddr),
    #[error("cannot read or create the secret file {path}: {source}")]
    Secret {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no data directory for this user; pass --db")]
    NoDataDir,
    #[error("not a valid user ID: {0}")]
    BadUser(String),
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

impl StoreArgs {
    pub fn db_path(&self) -> Result<PathBuf, CliError> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => directories::ProjectDirs::from("", "", "beckon")
                .map(|d| d.data_dir().join("beckon.db"))
                .ok_or(CliError::NoDataDir),
        }
    }

    pub fn secret(&self) -> Result<Vec<u8>, CliError> {
        if let Some(s) = &self.secret {
            return Ok(s.as_bytes().to_vec());
        }
        let path = self.db_path()?.with_file_name("secret");
        auth::secret_from_file(&path).map_err(|source| CliError::Secret { path, source })
    }
}

impl ServeArgs {
    /// Decides auth from the flags and the address: open by default only on loopback.
    pub fn config(&self) -> Result<Config, CliError> {
        let loopback = self.listen.ip().is_loopback();
        let open = match self.auth {
            AuthFlag::Auto => loopback,
            AuthFlag::Open => true,
            AuthFlag::Token => false,
        };
        if open && !loopback && !self.allow_open_on_public {
            return Err(CliError::OpenOnPublic(self.listen));
        }
        let auth = if open {
            AuthMode::Open
        } else {
            AuthMode::Token {
                secret: self.store.secret()?,
            }
        };
        Ok(Config {
            db_path: self.store.db_path()?,
            durability: self.sync,
            auth,
            heartbeat_timeout: Duration::from_secs(self.heartbeat_timeout.max(1)),
            ended_retention: Duration::from_secs(60),
            max_connections: self.max_connections.max(1),
            connections_per_ip_per_sec: std::num::NonZeroU32::new(self.connections_per_ip),
            header_read_timeout: Duration::from_secs(self.header_timeout.max(1)),
            login_timeout: Duration::from_secs(self.login_timeout.max(1)),
            shutdown_deadline: Duration::from_secs(self.shutdown_timeout),
            outbound_budget_bytes: self.outbound_budget_mb.max(1) * 1024 * 1024,
        })
    }
}

impl TokenArgs {
    pub fn mint(&self) -> Result<String, CliError> {
        if !beckon_protocol::is_valid_id(&self.user) {
            return Err(CliError::BadUser(self.user.clone()));
        }
        Ok(auth::mint(&self.store.secret()?, &self.user, self.ttl)?)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    #[test]
    fn boolean_env_values_take_the_usual_spellings() {
        // The flag's own parser, read from a variable no other test touches.
        const VAR: &str = "BECKON_TEST_BOOLISH_ALLOW_OPEN";
        let parse = |value: &str| {
            std::env::set_var(VAR, value);
            let cmd = Cli::command().mut_arg("allow_open_on_public", |a| a.env(VAR));
            let matches = cmd.try_get_matches_from(["beckon-server"]);
            std::env::remove_var(VAR);
            Cli::from_arg_matches(&matches.unwrap_or_else(|e| panic!("{value}: {e}")))
                .unwrap()
                .serve
                .allow_open_on_public
        };
        for yes in ["1", "yes", "true", "on", "YES", "True"] {
            assert!(parse(yes), "{yes}");
        }
        for no in ["0", "no", "false", "off", "NO"] {
            assert!(!parse(no), "{no}");
        }
    }

    fn serve(args: &[&str]) -> ServeArgs {
        let mut all = vec!["beckon-server"];
        all.extend_from_slice(args);
        Cli::parse_from(all).serve
    }

    #[test]
    fn open_auth_is_the_default_on_loopback_only() {
        let c = serve(&["--listen", "127.0.0.1:1", "--db", "/tmp/x.db"])
            .config()
            .unwrap();
        assert!(matches!(c.auth, AuthMode::Open));
        let e = serve(&[
            "--listen",
            "0.0.0.0:1",
            "--db",
            "/tmp/x.db",
            "--auth",
            "open",
        ])
        .config();
        assert!(matches!(e, Err(CliError::OpenOnPublic(_))));
        let c = serve(&[
            "--listen",
            "0.0.0.0:1",
            "--db",
            "/tmp/x.db",
            "--auth",
            "open",
            "--allow-open-on-public",
        ])
        .config()
        .unwrap();
        assert!(matches!(c.auth, AuthMode::Open));
        let c = serve(&[
            "--listen",
            "0.0.0.0:1",
            "--db",
            "/tmp/x.db",
            "--secret",
            "k",
        ])
        .config()
        .unwrap();
        assert!(matches!(c.auth, AuthMode::Token { .. }));
    }
}
