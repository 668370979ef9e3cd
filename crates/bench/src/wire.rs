//! The bench's side of a connection, over either transport: Beckon's WebSocket client
//! (for Beckon and the WebSocket floor) or [`TcpWire`] (for the TCP floor). The phases
//! call the same typed requests on both, so every target is driven the same way.

use std::time::Duration;

use beckon_client::{Requests, WireClient, WireError};
use beckon_protocol::{RequestBody, ResponseBody, ServerMessage};

pub use crate::tcp_wire::TcpWire;

#[derive(Debug, Clone)]
pub enum Wire {
    Ws(WireClient),
    Tcp(TcpWire),
}

/// Pushed frames, in arrival order, bounded as [`beckon_client::wire::Events`] is.
#[derive(Debug)]
pub enum Events {
    Ws(beckon_client::wire::Events),
    Tcp(crate::tcp_wire::Events),
}

impl Events {
    pub async fn next(&mut self) -> Option<ServerMessage> {
        match self {
            Events::Ws(e) => e.next().await,
            Events::Tcp(e) => e.recv().await,
        }
    }

    /// `None` when the time ran out or the stream ended.
    pub async fn next_timeout(&mut self, d: Duration) -> Option<ServerMessage> {
        tokio::time::timeout(d, self.next()).await.ok().flatten()
    }
}

impl Wire {
    pub async fn request(&self, body: RequestBody) -> Result<ResponseBody, WireError> {
        match self {
            Wire::Ws(w) => w.request(body).await,
            Wire::Tcp(w) => w.request(body).await,
        }
    }

    pub async fn close(&self) {
        match self {
            Wire::Ws(w) => w.close().await,
            Wire::Tcp(w) => w.close().await,
        }
    }

    pub fn is_closed(&self) -> bool {
        match self {
            Wire::Ws(w) => w.is_closed(),
            Wire::Tcp(w) => w.is_closed(),
        }
    }

    /// Time since this connection last wrote a frame.
    pub fn since_last_send(&self) -> Duration {
        match self {
            Wire::Ws(w) => w.since_last_send(),
            Wire::Tcp(w) => w.since_last_send(),
        }
    }
}

/// The typed requests are beckon-client's, over either transport.
impl Requests for Wire {
    async fn request(&self, body: RequestBody) -> Result<ResponseBody, WireError> {
        Wire::request(self, body).await
    }
}
