//! Browser mode's loopback server: the pages and their channel answer only requests that
//! carry this launch's secret, name our Host, and come from our Origin (or from none, for
//! a page load). Run against the real server code on a real socket.

use std::sync::Arc;
use std::time::Duration;

use beckon_app::{new_secret, page_url, serve_pages, AppState, PageAssets};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

struct Pages;

impl PageAssets for Pages {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        (path == "/index.html").then(|| b"<!doctype html><title>Beckon</title>".to_vec())
    }
}

struct Running {
    /// `127.0.0.1:port`
    host: String,
    secret: String,
    _config: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let config = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secret = new_secret();
    let url = page_url(&listener, &secret).unwrap().url;
    let host = listener.local_addr().unwrap().to_string();
    assert_eq!(url, format!("http://{host}/{secret}/"));
    let state = Arc::new(AppState::new(config.path().to_owned()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_pages(
        listener,
        secret.clone(),
        state,
        Arc::new(Pages),
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        host,
        secret,
        _config: config,
        _stop: stop,
    }
}

/// GET `path` with these headers (Host is ours unless given): status and body.
async fn get(r: &Running, path: &str, headers: &[(&str, &str)]) -> (u16, String, hyper::HeaderMap) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = hyper::Request::get(format!("http://{}{path}", r.host));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = tokio::time::timeout(WAIT, client.request(request.body(Empty::new()).unwrap()))
        .await
        .expect("an answer in time")
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the page channel at `/<secret>/ws` with this Origin (none for `None`).
async fn channel(r: &Running, secret: &str, origin: Option<&str>) -> Result<Ws, u16> {
    let mut request = format!("ws://{}/{secret}/ws", r.host)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("not an HTTP refusal: {e}"),
    }
}

async fn ask(ws: &mut Ws, frame: Value) -> Value {
    ws.send(Message::text(frame.to_string())).await.unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("an answer in time")
            .expect("the channel is open")
            .unwrap();
        if let Message::Text(text) = message {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] == "reply" {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn pages_need_the_secret_our_host_and_our_origin() {
    let r = start().await;
    let ours = format!("http://{}", r.host);
    let page = format!("/{}/", r.secret);

    let (status, body, headers) = get(&r, &page, &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Beckon</title>"));
    // The secret is in the URL: no Referer may carry it away, no cache may keep it.
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(get(&r, &page, &[("origin", &ours)]).await.0, 200);

    for (path, headers, why) in [
        ("/".to_owned(), vec![], "no secret"),
        ("/index.html".to_owned(), vec![], "no secret"),
        (format!("/{}/", new_secret()), vec![], "a wrong secret"),
        (format!("/{}x/", r.secret), vec![], "a longer secret"),
        (
            page.clone(),
            vec![("origin", "http://evil.example")],
            "another Origin",
        ),
        (
            page.clone(),
            vec![("host", "evil.example")],
            "another Host (DNS rebinding)",
        ),
    ] {
        let (status, body, _) = get(&r, &path, &headers).await;
        assert_eq!(status, 403, "{why}: {body}");
    }
    assert_eq!(
        get(&r, &format!("/{}/nothing.js", r.secret), &[]).await.0,
        404
    );
}

#[tokio::test]
async fn the_channel_needs_the_secret_and_our_origin() {
    let r = start().await;
    let ours = format!("http://{}", r.host);
    assert_eq!(
        channel(&r, &new_secret(), Some(&ours)).await.err(),
        Some(403),
        "wrong secret"
    );
    assert_eq!(
        channel(&r, "", Some(&ours)).await.err(),
        Some(403),
        "no secret"
    );
    assert_eq!(
        channel(&r, &r.secret, Some("http://evil.example"))
            .await
            .err(),
        Some(403),
        "another Origin"
    );
    assert_eq!(
        channel(&r, &r.secret, None).await.err(),
        Some(403),
        "no Origin"
    );

    let mut ws = channel(&r, &r.secret, Some(&ours))
        .await
        .expect("our page connects");
    let answer = ask(&mut ws, json!({"id": 1, "command": "app_state"})).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["value"], json!({"settings": null, "snapshot": null}));
}

#[tokio::test]
async fn bad_commands_get_numbered_errors_and_the_channel_survives() {
    let r = start().await;
    let ours = format!("http://{}", r.host);
    let mut ws = channel(&r, &r.secret, Some(&ours)).await.unwrap();

    let unknown = ask(&mut ws, json!({"id": 7, "command": "format_disk"})).await;
    assert_eq!(
        (unknown["id"].clone(), unknown["error"]["kind"].clone()),
        (json!(7), json!("invalid"))
    );
    let garbage = ask(&mut ws, json!("not an object")).await;
    assert_eq!(garbage["error"]["kind"], "invalid");
    let not_signed_in = ask(&mut ws, json!({"id": 8, "command": "hang_up"})).await;
    assert_eq!(not_signed_in["error"]["kind"], "notSignedIn");
    let desktop_only = ask(&mut ws, json!({"id": 9, "command": "open_in_browser"})).await;
    assert_eq!(desktop_only["error"]["kind"], "notNow");

    let fine = ask(&mut ws, json!({"id": 10, "command": "app_state"})).await;
    assert_eq!(fine["id"], 10);
    assert!(fine.get("error").is_none(), "{fine}");
}

#[tokio::test]
async fn a_newer_page_replaces_the_older_one() {
    let r = start().await;
    let ours = format!("http://{}", r.host);
    let mut first = channel(&r, &r.secret, Some(&ours)).await.unwrap();
    let mut second = channel(&r, &r.secret, Some(&ours)).await.unwrap();
    let closed = loop {
        match tokio::time::timeout(WAIT, first.next())
            .await
            .expect("the first page is told")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("the first page ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(closed.map(|f| u16::from(f.code)), Some(4000));
    let answer = ask(&mut second, json!({"id": 1, "command": "app_state"})).await;
    assert_eq!(answer["id"], 1);
}
