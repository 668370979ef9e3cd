//! `beckon-app --headless`: the core and browser mode without any window. For Linux
//! desktops whose webview has no WebRTC, and for the media tests, which drive these
//! pages in headless Chromium. It prints the page's URL and runs until SIGINT/SIGTERM.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use tauri::utils::assets::AssetKey;
use tauri::{Context, Runtime};

use crate::browser::{new_secret, page_url, serve, PageAssets};
use crate::state::AppState;

/// Why headless mode could not run.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on 127.0.0.1:{port} for the browser pages: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("BECKON_BROWSER_PORT is not a port number: {0:?}")]
    BadPort(String),
    #[error("the browser pages stopped: {0}")]
    Serve(std::io::Error),
}

/// The bundle's pages, taken out of the Tauri context once.
struct OwnedAssets(HashMap<String, Vec<u8>>);

impl PageAssets for OwnedAssets {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.0.get(path).cloned()
    }
}

fn owned_assets<R: Runtime>(context: &Context<R>) -> OwnedAssets {
    let assets = context.assets();
    let keys: Vec<String> = assets.iter().map(|(k, _)| k.into_owned()).collect();
    let pages = keys
        .into_iter()
        .filter_map(|k| {
            let bytes = assets.get(&AssetKey::from(k.as_str()))?.into_owned();
            Some((k, bytes))
        })
        .collect();
    OwnedAssets(pages)
}

/// `BECKON_CONFIG_DIR`, else the desktop app's own settings folder, so the same
/// installation signs in as the same user either way.
fn config_dir(identifier: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("BECKON_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    directories::BaseDirs::new()
        .map(|d| d.config_dir().join(identifier))
        .unwrap_or_else(|| PathBuf::from(".beckon"))
}

fn port() -> Result<u16, HeadlessError> {
    match std::env::var("BECKON_BROWSER_PORT") {
        Ok(raw) => raw.trim().parse().map_err(|_| HeadlessError::BadPort(raw)),
        Err(_) => Ok(0),
    }
}

pub fn run<R: Runtime>(context: Context<R>) -> Result<(), HeadlessError> {
    let assets = Arc::new(owned_assets(&context));
    let dir = config_dir(&context.config().identifier);
    let port = port()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(HeadlessError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| HeadlessError::Listen { port, source })?;
        let secret = new_secret();
        let url = page_url(&listener, &secret).map_err(HeadlessError::Serve)?;
        let state = Arc::new(AppState::new(dir));
        state.resume().await;
        // The one line a person (or a test) needs; stdout, so it can be read by a program.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "Beckon is running. Open {}", url.url);
        let _ = out.flush();
        let stop = shutdown_signal();
        serve(listener, secret, state.clone(), assets, stop)
            .await
            .map_err(HeadlessError::Serve)?;
        state.shut_down().await;
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
