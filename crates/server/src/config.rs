use std::num::NonZeroU32;
use std::time::Duration;

use beckon_protocol::limits::DEFAULT_HEARTBEAT_TIMEOUT_MS;

use crate::auth::AuthMode;
use crate::cluster::ClusterConfig;
use crate::ice::IceSettings;
use crate::store::{Database, Durability};

/// Everything `run` needs; the binary builds it from flags, tests build it directly.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the calls are kept: an SQLite file or a PostgreSQL database.
    pub db: Database,
    pub durability: Durability,
    pub auth: AuthMode,
    /// Silence longer than this ends a session; a device gone this long counts as gone.
    pub heartbeat_timeout: Duration,
    /// How long an ended call stays in memory for precise answers to late requests.
    pub ended_retention: Duration,
    /// Connections held at once, logged in or not.
    pub max_connections: usize,
    /// New connections per second from one IP address. `None`: unlimited.
    pub connections_per_ip_per_sec: Option<NonZeroU32>,
    /// Time a client has to send its HTTP request headers.
    pub header_read_timeout: Duration,
    /// Time from the WebSocket upgrade to a successful `login`; heartbeats do not extend it.
    pub login_timeout: Duration,
    /// Time sessions get on shutdown to say goodbye; then every connection is dropped.
    pub shutdown_deadline: Duration,
    /// Bytes queued for all clients together; past it, a client with a backlog is cut
    /// as a slow consumer.
    pub outbound_budget_bytes: usize,
    /// STUN and TURN servers handed to clients, and how TURN credentials are minted.
    pub ice: IceSettings,
    /// Set: this server is one node of a cluster on `db` (PostgreSQL) and this NATS.
    pub cluster: Option<ClusterConfig>,
}

impl Config {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 16_000;
    pub const DEFAULT_CONNECTIONS_PER_IP_PER_SEC: u32 = 20;
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_LOGIN_TIMEOUT: Duration =
        Duration::from_secs(beckon_protocol::limits::DEFAULT_LOGIN_TIMEOUT_SECS);
    pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
    pub const DEFAULT_OUTBOUND_BUDGET_BYTES: usize = 64 * 1024 * 1024;
    /// Connections the kernel may hold completed but not yet accepted. tokio's default of
    /// 128 overflows when a few hundred clients connect at once (after a restart, or a
    /// bench's logins), and each overflow costs the client a SYN retry of a second or more.
    /// The kernel silently caps it at `net.core.somaxconn` (4096 by default since Linux
    /// 5.4), so raise that sysctl too if you raise this.
    pub const LISTEN_BACKLOG: u32 = 4096;
}

impl Config {
    /// Open auth: what tests and local demos want.
    pub fn for_tests(db: impl Into<Database>) -> Config {
        Config {
            db: db.into(),
            durability: Durability::Normal,
            auth: AuthMode::Open,
            heartbeat_timeout: Duration::from_millis(DEFAULT_HEARTBEAT_TIMEOUT_MS),
            ended_retention: Duration::from_secs(60),
            max_connections: Config::DEFAULT_MAX_CONNECTIONS,
            // Tests open many connections from one address.
            connections_per_ip_per_sec: None,
            header_read_timeout: Config::DEFAULT_HEADER_READ_TIMEOUT,
            login_timeout: Config::DEFAULT_LOGIN_TIMEOUT,
            shutdown_deadline: Config::DEFAULT_SHUTDOWN_DEADLINE,
            outbound_budget_bytes: Config::DEFAULT_OUTBOUND_BUDGET_BYTES,
            ice: IceSettings::default(),
            cluster: None,
        }
    }
}
