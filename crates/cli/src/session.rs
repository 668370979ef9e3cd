//! What every command needs around the SDK: a first connection that fails fast, signals,
//! and a clean exit that does not leave the other side ringing or talking to nobody.

use beckon_client::manager::MachineConfig;
use beckon_client::{CallManager, Client, Error, Events, Updates};
use tokio::sync::mpsc;

use crate::args::ConnArgs;

/// Connects once and fails with a readable reason, rather than retrying in the background
/// as an application would: a mistyped URL or a refused token should end the program.
pub async fn connect(conn: &ConnArgs, command: &str) -> Result<(Client, Events), String> {
    let config = conn.client_config(command)?;
    let url = config.url.clone();
    Client::connect(config).await.map_err(|e| match e {
        Error::Connect(reason) => format!("cannot connect to {url}: {reason}"),
        other => format!("cannot connect to {url}: {other}"),
    })
}

pub async fn manager(
    conn: &ConnArgs,
    command: &str,
    invite_timeout: u32,
) -> Result<(CallManager, Updates), String> {
    let (client, events) = connect(conn, command).await?;
    let machine = MachineConfig {
        invite_timeout,
        ..MachineConfig::default()
    };
    Ok(CallManager::with_client(client, events, machine))
}

/// Ctrl-C (and SIGTERM, so `timeout 30 beckon call bob` hangs up too), as a stream: the
/// first one asks to stop politely, a later one during the clean exit cuts it short.
pub fn interrupts() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let got = tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                Some(()) = async { term.as_mut()?.recv().await } => true,
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok();
            if !got || tx.send(()).await.is_err() {
                break;
            }
        }
    });
    rx
}
