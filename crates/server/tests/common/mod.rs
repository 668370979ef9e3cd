//! Shared by the integration tests: a real server on port 0 (from beckon-testkit) and real
//! WebSocket clients.
#![allow(dead_code)]

pub mod abuse;

use beckon_client::Requests;
use std::time::Duration;

use beckon_client::wire::{Events, WireClient, WireError};
use beckon_protocol::*;
use beckon_server::auth::AuthMode;
pub use beckon_testkit::TestServer;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);
/// The call a [`User::sync`] marker names: no call has this ID, so the hub refuses it.
const MARKER_CALL: &str = "sync-marker";

/// Logged-in wire clients on a [`TestServer`].
pub trait Users {
    /// A connected client, not logged in.
    async fn connect(&self) -> (WireClient, Events);
    /// A logged-in user on device `{user}-1`.
    async fn user(&self, user: &str) -> User;
    async fn device(&self, user: &str, device: &str) -> User;
    /// A logged-in user on `device`, with a token when the server wants one.
    async fn login(&self, user: &str, device: &str, token: Option<String>) -> User;
}

impl Users for TestServer {
    async fn connect(&self) -> (WireClient, Events) {
        WireClient::connect(&self.url()).await.unwrap()
    }

    async fn user(&self, user: &str) -> User {
        self.device(user, &format!("{user}-1")).await
    }

    async fn device(&self, user: &str, device: &str) -> User {
        self.login(user, device, None).await
    }

    async fn login(&self, user: &str, device: &str, token: Option<String>) -> User {
        let (client, events) = self.connect().await;
        client
            .login(
                user,
                format!("{user} name"),
                token,
                Some(device.to_string()),
            )
            .await
            .unwrap();
        User {
            id: user.to_string(),
            client,
            events,
        }
    }
}

pub struct User {
    pub id: String,
    pub client: WireClient,
    pub events: Events,
}

impl User {
    /// The next event, whatever it is; panics after `WAIT`.
    pub async fn next(&mut self) -> ServerMessage {
        match self.events.next_timeout(WAIT).await {
            Some(e) => e,
            None => panic!("{}: no event within {WAIT:?}", self.id),
        }
    }

    /// Skips events until one matches `f`; panics after `WAIT`.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        f: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> T {
        self.wait_long(WAIT, what, f).await
    }

    /// [`wait_for`](Self::wait_for) with another limit, for deadlines some seconds away.
    pub async fn wait_long<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut f: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.events.next_timeout(left).await {
                Some(e) => {
                    if let Some(t) = f(&e) {
                        return t;
                    }
                }
                None => panic!("{}: no {what} within {limit:?}", self.id),
            }
        }
    }

    pub async fn received(&mut self) -> InvitationInfo {
        self.wait_for("callInvitationReceived", |e| match e {
            ServerMessage::CallInvitationReceived(i) => Some(i.clone()),
            _ => None,
        })
        .await
    }

    /// The next state change that mentions `user`, with that user's info.
    pub async fn state_of(&mut self, user: &str) -> CallUserInfo {
        self.wait_for(&format!("state change of {user}"), |e| match e {
            ServerMessage::CallUserStateChanged(c) => {
                c.call_user_list.iter().find(|u| u.user_id == user).cloned()
            }
            _ => None,
        })
        .await
    }

    /// Returns once every event the hub sent this device so far has arrived. The marker is
    /// a request the hub answers (a `callJoin` of a call nobody has, refused with
    /// `callNotFound`): the hub's frames leave in the order it made them, and the client
    /// queues events before it hands out the answer that followed them. A closed
    /// connection has delivered all it will.
    pub async fn sync(&self) {
        match self.client.call_join(MARKER_CALL, "").await {
            Err(WireError::Server(e)) if e.code == ErrorCode::CallNotFound => {}
            Err(WireError::Closed(_)) => {}
            other => panic!("{}: the sync marker got {other:?}", self.id),
        }
    }

    /// Every event the hub sent this device so far, and not read yet (see [`User::sync`]).
    /// Events from timers due later are not in it: wait for those by what they cause.
    pub async fn drain(&mut self) -> Vec<ServerMessage> {
        self.sync().await;
        let mut out = Vec::new();
        while let Some(e) = self.events.try_next() {
            out.push(e);
        }
        out
    }

    /// Asserts that no event the hub sent so far is waiting (see [`User::drain`]).
    pub async fn silent(&mut self) {
        let got = self.drain().await;
        assert!(
            got.is_empty(),
            "{}: expected no event, got {got:?}",
            self.id
        );
    }

    pub async fn invite(
        &self,
        invitees: &[&str],
        mode: CallMode,
        timeout: u32,
    ) -> CallInviteResult {
        self.client
            .call_invite(invite(invitees, mode, timeout))
            .await
            .unwrap()
    }
}

pub fn invite(invitees: &[&str], mode: CallMode, timeout: u32) -> CallInvite {
    CallInvite {
        invitees: invitees.iter().map(|s| s.to_string()).collect(),
        timeout: Some(timeout),
        mode,
        extended_data: r#"{"type":"voice_call"}"#.to_string(),
        push_config: None,
    }
}

pub fn cancel_all(call_id: &str) -> CallCancel {
    CallCancel {
        call_id: call_id.to_string(),
        invitees: vec![],
        extended_data: String::new(),
    }
}

/// The server's error code of a failed request.
pub fn code<T: std::fmt::Debug>(r: Result<T, WireError>) -> ErrorCode {
    match r {
        Err(e) => e
            .code()
            .unwrap_or_else(|| panic!("not a server error: {e}")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// The error body of a failed request.
pub fn error<T: std::fmt::Debug>(r: Result<T, WireError>) -> ErrorBody {
    match r {
        Err(WireError::Server(b)) => b,
        Err(e) => panic!("not a server error: {e}"),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

pub fn state_in(list: &[CallUserInfo], user: &str) -> CallUserState {
    list.iter()
        .find(|u| u.user_id == user)
        .unwrap_or_else(|| panic!("{user} not in {list:?}"))
        .state
}

/// The call as the history query shows it to `user`.
pub async fn history_call(user: &User, call_id: &str) -> CallInfo {
    let list = user.client.query_call_list(100, 0).await.unwrap();
    list.call_list
        .into_iter()
        .find(|c| c.call_id == call_id)
        .unwrap_or_else(|| panic!("{call_id} not in {}'s history", user.id))
}

pub fn token_mode(secret: &str) -> AuthMode {
    AuthMode::Token {
        secret: secret.as_bytes().to_vec(),
    }
}

/// Sends a heartbeat every 200 ms until the client closes, so a short heartbeat timeout
/// only catches the clients a test means to let go silent.
/// `user` logged in at `url` on device `{user}-1`, kept alive by a heartbeat task (for
/// servers with a short heartbeat timeout).
pub async fn login_at(url: &str, user: &str) -> User {
    let (client, events) = WireClient::connect(url).await.unwrap();
    client
        .login(
            user,
            format!("{user} name"),
            None,
            Some(format!("{user}-1")),
        )
        .await
        .unwrap();
    keepalive(&client);
    User {
        id: user.to_string(),
        client,
        events,
    }
}

pub fn keepalive(client: &WireClient) {
    let client = client.clone();
    tokio::spawn(async move {
        while client.heartbeat().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

pub fn calling_invite(call_id: &str, users: &[&str], timeout: u32) -> CallingInvite {
    CallingInvite {
        call_id: call_id.to_string(),
        invitees: users.iter().map(|u| u.to_string()).collect(),
        timeout: Some(timeout),
        extended_data: String::new(),
        push_config: None,
    }
}

impl User {
    /// Drops whatever is already queued, without waiting.
    pub fn drain_now(&mut self) {
        while self.events.try_next().is_some() {}
    }
}

impl User {
    /// Waits for a state change that puts `user` in `state`, skipping earlier ones.
    pub async fn wait_state(&mut self, user: &str, state: CallUserState) -> CallUserInfo {
        self.wait_for(&format!("{user} {state:?}"), |e| match e {
            ServerMessage::CallUserStateChanged(c) => c
                .call_user_list
                .iter()
                .find(|u| u.user_id == user && u.state == state)
                .cloned(),
            _ => None,
        })
        .await
    }
}

/// A plain HTTP/1.0 GET; returns (status line, body).
pub async fn http_get(base: &str, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// A free TCP port on `ip` (bound then released).
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[allow(unused_imports)]
pub use beckon_testkit::healthy;

impl User {
    /// Waits for the `callInvitationCancelled` event.
    pub async fn cancelled(&mut self) -> CallInvitationCancelled {
        self.wait_for("callInvitationCancelled", |e| match e {
            ServerMessage::CallInvitationCancelled(c) => Some(c.clone()),
            _ => None,
        })
        .await
    }
}

/// `user` is in `n` calls whose `extendedData` is 4 KiB each.
pub async fn big_history(s: &TestServer, user: &str, n: usize) {
    let caller = s.user(&format!("{user}-caller")).await;
    let data = serde_json::json!({"pad": "x".repeat(beckon_protocol::limits::MAX_EXTENDED_DATA_BYTES - 20)}).to_string();
    for _ in 0..n {
        let mut inv = invite(&[user], CallMode::Normal, 30);
        inv.extended_data = data.clone();
        let sent = loop {
            match caller.client.call_invite(inv.clone()).await {
                Ok(sent) => break sent,
                Err(e) if e.code() == Some(ErrorCode::RateLimited) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("invite failed: {e}"),
            }
        };
        loop {
            match caller.client.call_cancel(cancel_all(&sent.call_id)).await {
                Ok(_) => break,
                Err(e) if e.code() == Some(ErrorCode::RateLimited) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("cancel failed: {e}"),
            }
        }
    }
    caller.client.close().await;
}
