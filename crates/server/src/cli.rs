//! Command-line flags (each with an environment fallback) and how they become a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use beckon_protocol::limits::{
    DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_TURN_TTL_SECS, MAX_TURN_TTL_SECS, MIN_TURN_TTL_SECS,
};
use beckon_protocol::IceTransportPolicy;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::{self, AuthMode};
use crate::cluster::ClusterConfig;
use crate::ice::{IceSettings, Turn, TurnSecret};
use crate::store::{Database, Durability};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFlag {
    /// Direct connections when they work, the TURN relay when they do not.
    All,
    /// The TURN relay only: users never learn each other's IP addresses.
    Relay,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (WebSocket at /ws, plus /healthz and /metrics).
    #[arg(long, env = "BECKON_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Run as one node of a cluster: the NATS server(s) the nodes share, e.g.
    /// `nats://127.0.0.1:4222`. Needs a PostgreSQL --db, the same for every node, and the
    /// same --secret on every node with token auth.
    #[arg(long, env = "BECKON_NATS")]
    pub nats: Option<String>,
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
    /// full: every answered change is on disk first (survives power loss); normal: survives
    /// a killed server, not a power cut, and is faster. See docs/storage.md.
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
    #[command(flatten)]
    pub ice: IceArgs,
    /// Log filter, e.g. `info` or `beckon_server=debug`.
    #[arg(long, env = "BECKON_LOG", default_value = "info")]
    pub log: String,
}

/// The ICE servers clients get for their calls. Several URIs: repeat the flag, or separate
/// them with commas in the environment variable.
#[derive(Debug, Clone, Args)]
pub struct IceArgs {
    /// A STUN server for clients, e.g. `stun:turn.example.com:3478`. Repeatable.
    #[arg(long = "stun-uri", env = "BECKON_STUN_URI", value_delimiter = ',')]
    pub stun_uris: Vec<String>,
    /// A TURN server for clients, e.g. `turn:turn.example.com:3478?transport=udp`.
    /// Repeatable. Needs --turn-secret.
    #[arg(long = "turn-uri", env = "BECKON_TURN_URI", value_delimiter = ',')]
    pub turn_uris: Vec<String>,
    /// The TURN server's `static-auth-secret` (coturn with `use-auth-secret`): clients get
    /// credentials minted with it.
    #[arg(long, env = "BECKON_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// How long minted TURN credentials work, e.g. `12h`; 1m to 7d. Clients ask for new
    /// ones before they expire.
    #[arg(
        long,
        env = "BECKON_TURN_TTL",
        value_parser = turn_ttl,
        default_value_t = humantime::Duration::from(Duration::from_secs(DEFAULT_TURN_TTL_SECS))
    )]
    pub turn_ttl: humantime::Duration,
    /// `relay` for operators who want users' IP addresses hidden from each other: calls
    /// then always go through the TURN server, which must have the bandwidth.
    #[arg(long, env = "BECKON_ICE_TRANSPORT_POLICY", value_enum, default_value_t = PolicyFlag::All)]
    pub ice_transport_policy: PolicyFlag,
}

fn turn_ttl(text: &str) -> Result<humantime::Duration, String> {
    let ttl: humantime::Duration = text.parse().map_err(|e| format!("{e}"))?;
    let secs = Duration::from(ttl).as_secs();
    if (MIN_TURN_TTL_SECS..=MAX_TURN_TTL_SECS).contains(&secs) {
        Ok(ttl)
    } else {
        let (min, max) = (
            humantime::format_duration(Duration::from_secs(MIN_TURN_TTL_SECS)),
            humantime::format_duration(Duration::from_secs(MAX_TURN_TTL_SECS)),
        );
        Err(format!("must be {min} to {max}"))
    }
}

impl IceArgs {
    pub fn settings(&self) -> Result<IceSettings, CliError> {
        for (scheme, uris) in [("stun", &self.stun_uris), ("turn", &self.turn_uris)] {
            for uri in uris {
                let ok = uri
                    .split_once(':')
                    .is_some_and(|(s, rest)| !rest.is_empty() && s.trim_end_matches('s') == scheme);
                if !ok {
                    return Err(CliError::BadIceUri(uri.clone(), scheme));
                }
            }
        }
        let turn = match (self.turn_uris.is_empty(), &self.turn_secret) {
            (true, _) => None,
            (false, Some(secret)) if !secret.is_empty() => Some(Turn {
                uris: self.turn_uris.clone(),
                secret: TurnSecret::new(secret.as_bytes()),
                ttl: self.turn_ttl.into(),
            }),
            (false, _) => return Err(CliError::TurnWithoutSecret),
        };
        Ok(IceSettings {
            stun_uris: self.stun_uris.clone(),
            turn,
            policy: match self.ice_transport_policy {
                PolicyFlag::All => IceTransportPolicy::All,
                PolicyFlag::Relay => IceTransportPolicy::Relay,
            },
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where calls are kept: an SQLite file, or a PostgreSQL database as a
    /// `postgres://user:password@host/dbname` URL (connected without TLS). Default:
    /// beckon.db in the user's data directory.
    #[arg(long, env = "BECKON_DB", value_parser = DbParser, hide_env_values = true)]
    pub db: Option<Database>,
    /// Token-signing secret. Default: kept in a `secret` file beside the SQLite database
    /// (in the user's data directory with PostgreSQL), created on first use.
    #[arg(long, env = "BECKON_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// `--db`'s parser. Not a plain `FromStr` one: clap's own error for a bad value quotes the
/// value, which here may hold a password.
#[derive(Clone)]
struct DbParser;

impl clap::builder::TypedValueParser for DbParser {
    type Value = Database;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Database, clap::Error> {
        // Not UTF-8: not a URL, so a file path.
        let Some(text) = value.to_str() else {
            return Ok(Database::Sqlite(PathBuf::from(value)));
        };
        text.parse().map_err(|e: crate::store::DbUrlError| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--db: {e}\n"),
            )
            .with_cmd(cmd)
        })
    }
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
    #[error("no data directory for this user to keep the token secret in; pass --secret")]
    NoSecretDir,
    #[error("not a valid user ID: {0}")]
    BadUser(String),
    #[error(
        "--turn-uri needs --turn-secret (BECKON_TURN_SECRET): the TURN server's \
         static-auth-secret, with which clients' credentials are minted"
    )]
    TurnWithoutSecret,
    #[error("not a {1} URI: `{0}` (expected e.g. `{1}:turn.example.com:3478`)")]
    BadIceUri(String, &'static str),
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error(
        "--nats runs a cluster node, whose calls are in PostgreSQL: give --db a postgres:// URL"
    )]
    NatsWithoutPostgres,
}

impl StoreArgs {
    pub fn database(&self) -> Result<Database, CliError> {
        match &self.db {
            Some(db) => Ok(db.clone()),
            None => data_dir()
                .map(|d| Database::Sqlite(d.join("beckon.db")))
                .ok_or(CliError::NoDataDir),
        }
    }

    pub fn secret(&self) -> Result<Vec<u8>, CliError> {
        if let Some(s) = &self.secret {
            return Ok(s.as_bytes().to_vec());
        }
        let path = match self.database()? {
            Database::Sqlite(path) => path.with_file_name("secret"),
            Database::Postgres(_) => data_dir().ok_or(CliError::NoSecretDir)?.join("secret"),
        };
        auth::secret_from_file(&path).map_err(|source| CliError::Secret { path, source })
    }
}

fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "beckon").map(|d| d.data_dir().to_path_buf())
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
        let db = self.store.database()?;
        let cluster = match (&self.nats, &db) {
            (None, _) => None,
            (Some(nats), Database::Postgres(_)) => Some(ClusterConfig { nats: nats.clone() }),
            (Some(_), Database::Sqlite(_)) => return Err(CliError::NatsWithoutPostgres),
        };
        Ok(Config {
            db,
            cluster,
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
            ice: self.ice.settings()?,
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

    #[test]
    fn the_db_flag_takes_a_postgres_url_and_never_shows_its_password() {
        let c = serve(&["--db", "postgres://beckon:s3cret@localhost/beckon"])
            .config()
            .unwrap();
        assert!(matches!(c.db, Database::Postgres(_)), "{:?}", c.db);
        assert_eq!(c.db.to_string(), "postgres://beckon:***@localhost/beckon");
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = serve(&["--db", "/tmp/x.db"]).config().unwrap();
        assert_eq!(c.db, Database::Sqlite("/tmp/x.db".into()));
        let e = Cli::try_parse_from([
            "beckon-server",
            "--db",
            "postgres://u:s3cret@h/db?sslmode=x",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a valid PostgreSQL URL"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_turn_uri_needs_its_secret() {
        let base = ["--db", "/tmp/x.db", "--turn-uri", "turn:t.example:3478"];
        let e = serve(&base).config();
        assert!(matches!(e, Err(CliError::TurnWithoutSecret)), "{e:?}");
        let mut with_secret = base.to_vec();
        with_secret.extend([
            "--turn-secret",
            "s3cret",
            "--stun-uri",
            "stun:t.example:3478",
        ]);
        let c = serve(&with_secret).config().unwrap();
        let turn = c.ice.turn.as_ref().unwrap();
        assert_eq!(turn.uris, ["turn:t.example:3478"]);
        assert_eq!(
            turn.ttl,
            Duration::from_secs(beckon_protocol::limits::DEFAULT_TURN_TTL_SECS)
        );
        assert_eq!(c.ice.stun_uris, ["stun:t.example:3478"]);
        assert_eq!(c.ice.policy, IceTransportPolicy::All);
        assert!(!format!("{c:?}").contains("s3cret"));
        // STUN alone needs no secret.
        let c = serve(&[
            "--db",
            "/tmp/x.db",
            "--stun-uri",
            "stun:a",
            "--stun-uri",
            "stun:b",
        ])
        .config()
        .unwrap();
        assert_eq!(c.ice.stun_uris, ["stun:a", "stun:b"]);
        assert!(c.ice.turn.is_none());
        let e = serve(&["--db", "/tmp/x.db", "--stun-uri", "turn:a"]).config();
        assert!(matches!(e, Err(CliError::BadIceUri(..))), "{e:?}");
    }

    #[test]
    fn the_turn_ttl_is_bounded_and_the_policy_parsed() {
        let parse = |args: &[&str]| {
            let mut all = vec!["beckon-server"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|c| c.serve.ice)
        };
        assert!(parse(&["--turn-ttl", "59s"]).is_err());
        assert!(parse(&["--turn-ttl", "8d"]).is_err());
        assert!(parse(&["--turn-ttl", "soon"]).is_err());
        let ice = parse(&["--turn-ttl", "1m", "--ice-transport-policy", "relay"]).unwrap();
        assert_eq!(Duration::from(ice.turn_ttl), Duration::from_secs(60));
        assert_eq!(ice.ice_transport_policy, PolicyFlag::Relay);
        let ice = parse(&["--turn-ttl", "7d"]).unwrap();
        assert_eq!(Duration::from(ice.turn_ttl), Duration::from_secs(7 * 86400));
    }

    #[test]
    fn help_never_shows_the_turn_secret() {
        const VAR: &str = "BECKON_TEST_TURN_SECRET_IN_HELP";
        std::env::set_var(VAR, "do-not-print-me");
        let help = Cli::command()
            .mut_arg("turn_secret", |a| a.env(VAR))
            .render_long_help()
            .to_string();
        std::env::remove_var(VAR);
        assert!(help.contains("--turn-secret"), "{help}");
        assert!(help.contains("--turn-ttl"), "{help}");
        assert!(!help.contains("do-not-print-me"), "{help}");
    }
}
