//! The bench's side of a connection, over either transport: Beckon's WebSocket client
//! (for Beckon and the WebSocket floor) or [`TcpWire`] (for the TCP floor). The phases
//! call the same typed requests on both, so every target is driven the same way.

use std::time::Duration;

use beckon_client::{WireClient, WireError};
use beckon_protocol::{
    CallAnswer, CallCancel, CallCancelResult, CallIdResult, CallInvite, CallInviteResult, CallList,
    CallReject, HeartbeatResult, Login, LoginResult, QueryCallInvitationList, RejectReason,
    RequestBody, ResponseBody, ServerMessage,
};

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

/// Unwraps the expected `ResponseBody` variant or reports which one came instead.
macro_rules! expect_result {
    ($answer:expr, $variant:ident) => {
        match $answer? {
            ResponseBody::$variant(result) => Ok(result),
            _ => Err(WireError::Protocol(format!(
                "expected a {} result",
                stringify!($variant)
            ))),
        }
    };
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

    pub async fn login(
        &self,
        user_id: String,
        user_name: String,
    ) -> Result<LoginResult, WireError> {
        let login = Login {
            user_id,
            user_name,
            token: None,
            device_id: None,
        };
        expect_result!(self.request(RequestBody::Login(login)).await, Login)
    }

    pub async fn heartbeat(&self) -> Result<HeartbeatResult, WireError> {
        expect_result!(self.request(RequestBody::Heartbeat).await, Heartbeat)
    }

    pub async fn call_invite(&self, invite: CallInvite) -> Result<CallInviteResult, WireError> {
        expect_result!(
            self.request(RequestBody::CallInvite(invite)).await,
            CallInvite
        )
    }

    pub async fn call_cancel(&self, cancel: CallCancel) -> Result<CallCancelResult, WireError> {
        expect_result!(
            self.request(RequestBody::CallCancel(cancel)).await,
            CallCancel
        )
    }

    pub async fn call_accept(
        &self,
        call_id: String,
        extended_data: String,
    ) -> Result<CallIdResult, WireError> {
        let body = RequestBody::CallAccept(CallAnswer {
            call_id,
            extended_data,
        });
        expect_result!(self.request(body).await, CallAccept)
    }

    pub async fn call_reject(
        &self,
        call_id: String,
        extended_data: String,
        reason: RejectReason,
    ) -> Result<CallIdResult, WireError> {
        let body = RequestBody::CallReject(CallReject {
            call_id,
            extended_data,
            reason,
        });
        expect_result!(self.request(body).await, CallReject)
    }

    pub async fn query_call_list(&self, count: u32, next_flag: u64) -> Result<CallList, WireError> {
        let body =
            RequestBody::QueryCallInvitationList(QueryCallInvitationList { count, next_flag });
        expect_result!(self.request(body).await, QueryCallInvitationList)
    }
}
