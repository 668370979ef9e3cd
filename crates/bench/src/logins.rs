//! Phase 1: connect and log in every simulated client.

use beckon_client::Requests;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use beckon_client::wire::{WireClient, WireConfig};
use tokio::net::TcpSocket;
use tokio::task::JoinSet;

pub use crate::floor::Transport;
use crate::wire::{Events, TcpWire, Wire};

/// Everything one client needs, from connect to login, must finish within this.
const LOGIN_BUDGET: Duration = Duration::from_secs(15);
/// Attempts [`login_user`] makes.
const LOGIN_ATTEMPTS: u32 = 5;

pub struct Client {
    pub user_id: String,
    pub wire: Wire,
    pub events: Events,
}

pub struct Logins {
    pub clients: Vec<Client>,
    pub elapsed: Duration,
}

/// Shared with the keepalive task, which must see clients as soon as they log in (a long
/// login phase would otherwise let the first ones time out).
#[derive(Clone, Default)]
pub struct Registry {
    pub clients: Arc<Mutex<Vec<Wire>>>,
    /// The smallest heartbeat interval any login result announced, in ms.
    pub heartbeat_interval_ms: Arc<AtomicU64>,
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            clients: Arc::default(),
            heartbeat_interval_ms: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }
}

pub fn client_config() -> WireConfig {
    WireConfig {
        // Bench clients get at most a handful of events at a time; a small buffer keeps
        // 10,000 of them cheap.
        event_buffer: 64,
        request_timeout: Some(Duration::from_secs(10)),
        connect_timeout: Duration::from_secs(10),
    }
}

/// The source addresses to spread connections over: 127.0.0.1 ..= 127.0.0.n, or only
/// 127.0.0.1 where this system will not bind the others.
pub fn source_addresses(n: u8) -> Vec<IpAddr> {
    let probe = TcpSocket::new_v4().and_then(|s| s.bind((Ipv4Addr::new(127, 0, 0, 2), 0).into()));
    if n <= 1 || probe.is_err() {
        return vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    }
    (1..=n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
        .collect()
}

/// Logs in `count` clients, client i at `endpoints[i % len]` (a server's nodes).
pub async fn login_all(
    endpoints: &[(String, SocketAddr)],
    transport: Transport,
    count: usize,
    concurrency: usize,
    sources: &[IpAddr],
    registry: &Registry,
) -> Result<Logins> {
    let start = Instant::now();
    let mut slots: Vec<Option<Client>> = (0..count).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut next = 0;
    let mut failures = 0usize;
    let mut first_failure = None;
    while next < count || !tasks.is_empty() {
        while next < count && tasks.len() < concurrency.max(1) {
            let i = next;
            next += 1;
            let (url, addr) = endpoints[i % endpoints.len()].clone();
            let source = sources[i % sources.len()];
            let registry = registry.clone();
            tasks.spawn(async move {
                let user_id = format!("u{i}");
                let login = login_one(&url, addr, transport, source, user_id);
                let client = tokio::time::timeout(LOGIN_BUDGET, login)
                    .await
                    .map_err(|_| anyhow!("no login within {LOGIN_BUDGET:?}"))
                    .and_then(|r| r);
                (
                    i,
                    client.map(|(c, interval)| {
                        registry
                            .heartbeat_interval_ms
                            .fetch_min(interval, Ordering::Relaxed);
                        if let Ok(mut all) = registry.clients.lock() {
                            all.push(c.wire.clone());
                        }
                        c
                    }),
                )
            });
        }
        match tasks.join_next().await {
            Some(Ok((i, Ok(client)))) => slots[i] = Some(client),
            Some(Ok((i, Err(e)))) => {
                failures += 1;
                first_failure.get_or_insert_with(|| format!("u{i}: {e:#}"));
            }
            Some(Err(e)) => bail!("login task failed: {e}"),
            None => {}
        }
    }
    let elapsed = start.elapsed();
    if let Some(first) = first_failure {
        bail!("{failures} of {count} clients could not log in; first: {first}");
    }
    Ok(Logins {
        clients: slots.into_iter().flatten().collect(),
        elapsed,
    })
}

/// One client logged in as `user_id` from 127.0.0.1, for runs that need named users.
/// A refused attempt is retried a few times, a second apart: a server that limits
/// connections per address may refuse a quick series of logins.
pub async fn login_user(url: &str, addr: SocketAddr, user_id: &str) -> Result<Client> {
    let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut attempt = 1;
    loop {
        let login = login_one(url, addr, Transport::Ws, source, user_id.to_owned());
        let result = tokio::time::timeout(LOGIN_BUDGET, login)
            .await
            .map_err(|_| anyhow!("no login within {LOGIN_BUDGET:?}"))
            .and_then(|r| r);
        match result {
            Ok((client, _)) => return Ok(client),
            Err(e) if attempt >= LOGIN_ATTEMPTS => {
                return Err(e.context(format!("{user_id}: {attempt} login attempts failed")))
            }
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn login_one(
    url: &str,
    addr: SocketAddr,
    transport: Transport,
    source: IpAddr,
    user_id: String,
) -> Result<(Client, u64)> {
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::new(source, 0))
        .with_context(|| format!("binding source address {source}"))?;
    let tcp = socket.connect(addr).await.context("TCP connect")?;
    tcp.set_nodelay(true)?;
    let config = client_config();
    let (wire, events) = match transport {
        Transport::Ws => {
            let (wire, events) = WireClient::connect_over(url, tcp, config).await?;
            (Wire::Ws(wire), Events::Ws(events))
        }
        Transport::Tcp => {
            let timeout = config.request_timeout.unwrap_or(LOGIN_BUDGET);
            let (wire, events) = TcpWire::start(tcp, config.event_buffer, timeout);
            (Wire::Tcp(wire), Events::Tcp(events))
        }
    };
    let result = wire
        .login(user_id.clone(), user_id.clone(), None, None)
        .await?;
    let client = Client {
        user_id,
        wire,
        events,
    };
    Ok((client, result.heartbeat_interval_ms))
}
