//! Browser mode: the same pages, served on 127.0.0.1 with their command/event channel on
//! a WebSocket, for webviews without WebRTC (Debian's and Ubuntu's WebKitGTK) and for the
//! headless app the media tests drive with Chromium.
//!
//! Anything on the machine can reach a loopback port, and any web page the user visits
//! can make the browser try, so every request must carry the per-launch secret (first path
//! segment, compared in constant time), the Host must be ours (a DNS-rebinding page sends
//! its own name), and a request that has an Origin must have ours: browsers always send
//! one on a WebSocket upgrade, so another site's page cannot open the channel.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{broadcast::error::RecvError, mpsc, watch, Semaphore};

use crate::error::{CommandError, CommandErrorKind};
use crate::host::{self, HostCommand};
use crate::state::AppState;

/// Largest frame a page may send: an SDP offer is a few KiB.
const MAX_FRAME: usize = 256 * 1024;
/// Commands of one page running at once; more wait (the page awaits its answers).
const COMMANDS_IN_FLIGHT: usize = 16;
/// Frames queued for a page that is slow to read.
const OUTBOUND: usize = 256;

/// Where the pages are: the Tauri bundle's assets, by path (`/index.html`).
pub trait PageAssets: Send + Sync + 'static {
    fn get(&self, path: &str) -> Option<Vec<u8>>;
}

/// The address a browser opens, secret included.
#[derive(Debug, Clone)]
pub struct PageUrl {
    pub url: String,
}

struct Served {
    state: Arc<AppState>,
    assets: Arc<dyn PageAssets>,
    secret: String,
    host: String,
    origin: String,
    /// Bumped by each new page channel; the older ones see it and close, so only one page
    /// (one media module) answers for this user at a time.
    generation: watch::Sender<u64>,
}

/// A fresh secret for one launch: 128 random bits, hex.
pub fn new_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves until `shutdown` resolves. The listener must be bound to a loopback address.
pub async fn serve(
    listener: TcpListener,
    secret: String,
    state: Arc<AppState>,
    assets: Arc<dyn PageAssets>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let served = Arc::new(Served {
        state,
        assets,
        host: addr.to_string(),
        origin: format!("http://{addr}"),
        secret,
        generation: watch::channel(0).0,
    });
    let app = axum::Router::new().fallback(handle).with_state(served);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The URL of the pages served on `listener` with `secret`.
pub fn page_url(listener: &TcpListener, secret: &str) -> std::io::Result<PageUrl> {
    Ok(PageUrl {
        url: format!("http://{}/{secret}/", listener.local_addr()?),
    })
}

async fn handle(State(served): State<Arc<Served>>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if let Err(refusal) = served.admit(&parts.headers, parts.uri.path()) {
        return refusal.into_response();
    }
    let rest = parts.uri.path()[served.secret.len() + 2..].to_owned();
    if rest == "ws" {
        if parts.headers.get(header::ORIGIN).is_none() {
            return refused(StatusCode::FORBIDDEN, "a page channel needs an Origin");
        }
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => ws
                .max_message_size(MAX_FRAME)
                .on_upgrade(move |socket| page_channel(served, socket)),
            Err(e) => e.into_response(),
        };
    }
    let path = if rest.is_empty() {
        "/index.html".to_owned()
    } else {
        format!("/{rest}")
    };
    match served.assets.get(&path) {
        Some(bytes) => asset(&path, bytes, &served.origin),
        None => refused(StatusCode::NOT_FOUND, "no such page"),
    }
}

impl Served {
    fn admit(&self, headers: &HeaderMap, path: &str) -> Result<(), Refusal> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if host != Some(self.host.as_str()) {
            return Err((StatusCode::FORBIDDEN, "wrong Host"));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            if origin.as_bytes() != self.origin.as_bytes() {
                return Err((StatusCode::FORBIDDEN, "wrong Origin"));
            }
        }
        let given = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .map(|(secret, _)| secret)
            .unwrap_or("");
        let matches: bool = given.as_bytes().ct_eq(self.secret.as_bytes()).into();
        if !matches {
            return Err((StatusCode::FORBIDDEN, "wrong or missing secret"));
        }
        Ok(())
    }
}

/// A refused request's status and the reason it says.
type Refusal = (StatusCode, &'static str);

fn refused(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

fn asset(path: &str, bytes: Vec<u8>, origin: &str) -> Response {
    let mime = tauri::utils::mime_type::MimeType::parse(&bytes, path);
    let ws = origin.replacen("http://", "ws://", 1);
    let csp = format!(
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self' {ws}"
    );
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    // The secret is in the URL: it must not leave in a Referer or sit in a cache.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page's frame: a command with the number its answer will carry.
#[derive(Debug, Deserialize)]
struct PageRequest {
    id: u64,
    #[serde(flatten)]
    command: HostCommand,
}

/// What the core sends a page.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum PageFrame {
    Reply {
        id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<CommandError>,
    },
    Event {
        event: &'static str,
        payload: serde_json::Value,
    },
}

impl PageFrame {
    fn reply(id: u64, result: Result<serde_json::Value, CommandError>) -> Self {
        match result {
            Ok(value) => PageFrame::Reply {
                id,
                value: Some(value),
                error: None,
            },
            Err(error) => PageFrame::Reply {
                id,
                value: None,
                error: Some(error),
            },
        }
    }
}

async fn page_channel(served: Arc<Served>, socket: WebSocket) {
    let mut me = 0;
    served.generation.send_modify(|g| {
        *g += 1;
        me = *g;
    });
    let mut newer = served.generation.subscribe();
    let mut events = served.state.subscribe();
    let (out_tx, mut out_rx) = mpsc::channel::<PageFrame>(OUTBOUND);
    let in_flight = Arc::new(Semaphore::new(COMMANDS_IN_FLIGHT));
    let (mut sink, mut stream) = futures_util::StreamExt::split(socket);
    use futures_util::{SinkExt, StreamExt};
    loop {
        tokio::select! {
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let request = match serde_json::from_str::<PageRequest>(&text) {
                    Ok(r) => r,
                    Err(e) => {
                        let id = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| v.get("id").and_then(serde_json::Value::as_u64))
                            .unwrap_or(0);
                        let error = CommandError::new(CommandErrorKind::Invalid, format!("not a command: {e}"));
                        let _ = out_tx.try_send(PageFrame::reply(id, Err(error)));
                        continue;
                    }
                };
                let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
                let (served, out) = (served.clone(), out_tx.clone());
                tokio::spawn(async move {
                    let result = match request.command {
                        HostCommand::OpenInBrowser => Err(CommandError::new(
                            CommandErrorKind::NotNow,
                            "this page is already open in a browser",
                        )),
                        command => host::execute(&served.state, command).await,
                    };
                    let _ = out.send(PageFrame::reply(request.id, result)).await;
                    drop(permit);
                });
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let frame = PageFrame::Event { event: event.name(), payload: event.payload() };
                    if out_tx.try_send(frame).is_err() {
                        tracing::warn!("a browser page is not reading its events; closing it");
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a browser page fell behind the call manager's events");
                }
                Err(RecvError::Closed) => return,
            },
            Some(frame) = out_rx.recv() => {
                let Ok(text) = serde_json::to_string(&frame) else { continue };
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            _ = async { newer.wait_for(|g| *g != me).await.map(drop) } => {
                tracing::info!("another browser page opened; closing this one");
                let _ = sink.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 4000,
                    reason: "replaced by a newer page".into(),
                }))).await;
                return;
            }
        }
    }
}
