//! One typed method per request kind. Each checks that the answer is the kind of result the
//! request asked for, so a mismatch surfaces as [`WireError::Protocol`] at the call site
//! instead of as a confusing panic in a test later.

use beckon_protocol::{
    CallAnswer, CallCancel, CallCancelResult, CallEndResult, CallIdResult, CallInfo, CallInvite,
    CallInviteResult, CallList, CallReject, CallingInvite, HeartbeatResult, IceConfig, Login,
    LoginResult, QueryCallInvitationList, RejectReason, Relay, RequestBody, ResponseBody,
};

use super::{WireClient, WireError};

/// Unwraps the expected `ResponseBody` variant or reports which one came instead.
macro_rules! expect_result {
    ($answer:expr, $variant:ident) => {
        match $answer? {
            ResponseBody::$variant(result) => Ok(result),
            other => Err(unexpected(stringify!($variant), &other)),
        }
    };
}

fn unexpected(wanted: &str, got: &ResponseBody) -> WireError {
    let kind = serde_json::to_value(got)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    WireError::Protocol(format!("expected a {wanted} result, got `{kind}`"))
}

fn answer(call_id: impl Into<String>, extended_data: impl Into<String>) -> CallAnswer {
    CallAnswer {
        call_id: call_id.into(),
        extended_data: extended_data.into(),
    }
}

/// The typed requests, over any connection that can send a request and return its answer:
/// Beckon's WebSocket [`WireClient`], and other transports that speak the same messages
/// (the bench's length-prefixed TCP floor). Bring it into scope to call them.
// Callers hold concrete connections, whose futures are `Send` as their own are.
#[allow(async_fn_in_trait)]
pub trait Requests {
    /// Sends one request and waits for its answer.
    async fn request(&self, body: RequestBody) -> Result<ResponseBody, WireError>;

    /// `token` may be `None` when the server runs in open (dev) mode; `device_id` `None`
    /// lets the server generate one (returned in the result).
    async fn login(
        &self,
        user_id: impl Into<String>,
        user_name: impl Into<String>,
        token: Option<String>,
        device_id: Option<String>,
    ) -> Result<LoginResult, WireError> {
        let login = Login {
            user_id: user_id.into(),
            user_name: user_name.into(),
            token,
            device_id,
        };
        expect_result!(self.request(RequestBody::Login(login)).await, Login)
    }

    async fn logout(&self) -> Result<(), WireError> {
        match self.request(RequestBody::Logout).await? {
            ResponseBody::Logout => Ok(()),
            other => Err(unexpected("Logout", &other)),
        }
    }

    async fn heartbeat(&self) -> Result<HeartbeatResult, WireError> {
        expect_result!(self.request(RequestBody::Heartbeat).await, Heartbeat)
    }

    async fn call_invite(&self, invite: CallInvite) -> Result<CallInviteResult, WireError> {
        expect_result!(
            self.request(RequestBody::CallInvite(invite)).await,
            CallInvite
        )
    }

    async fn call_cancel(&self, cancel: CallCancel) -> Result<CallCancelResult, WireError> {
        expect_result!(
            self.request(RequestBody::CallCancel(cancel)).await,
            CallCancel
        )
    }

    async fn call_accept(
        &self,
        call_id: impl Into<String>,
        extended_data: impl Into<String>,
    ) -> Result<CallIdResult, WireError> {
        let body = RequestBody::CallAccept(answer(call_id, extended_data));
        expect_result!(self.request(body).await, CallAccept)
    }

    async fn call_reject(
        &self,
        call_id: impl Into<String>,
        extended_data: impl Into<String>,
        reason: RejectReason,
    ) -> Result<CallIdResult, WireError> {
        let body = RequestBody::CallReject(CallReject {
            call_id: call_id.into(),
            extended_data: extended_data.into(),
            reason,
        });
        expect_result!(self.request(body).await, CallReject)
    }

    async fn calling_invite(&self, invite: CallingInvite) -> Result<CallInviteResult, WireError> {
        expect_result!(
            self.request(RequestBody::CallingInvite(invite)).await,
            CallingInvite
        )
    }

    async fn call_join(
        &self,
        call_id: impl Into<String>,
        extended_data: impl Into<String>,
    ) -> Result<CallInfo, WireError> {
        let body = RequestBody::CallJoin(answer(call_id, extended_data));
        expect_result!(self.request(body).await, CallJoin)
    }

    async fn call_quit(
        &self,
        call_id: impl Into<String>,
        extended_data: impl Into<String>,
    ) -> Result<CallIdResult, WireError> {
        let body = RequestBody::CallQuit(answer(call_id, extended_data));
        expect_result!(self.request(body).await, CallQuit)
    }

    async fn call_end(
        &self,
        call_id: impl Into<String>,
        extended_data: impl Into<String>,
    ) -> Result<CallEndResult, WireError> {
        let body = RequestBody::CallEnd(answer(call_id, extended_data));
        expect_result!(self.request(body).await, CallEnd)
    }

    /// One page of the calls this user is a member of, newest first; pass the returned
    /// `next_flag` back for the next page (0 for the first).
    async fn query_call_list(&self, count: u32, next_flag: u64) -> Result<CallList, WireError> {
        let body =
            RequestBody::QueryCallInvitationList(QueryCallInvitationList { count, next_flag });
        expect_result!(self.request(body).await, QueryCallInvitationList)
    }

    /// ICE servers with fresh TURN credentials for the logged-in user.
    async fn query_ice_config(&self) -> Result<IceConfig, WireError> {
        expect_result!(
            self.request(RequestBody::QueryIceConfig).await,
            QueryIceConfig
        )
    }

    async fn relay(
        &self,
        call_id: impl Into<String>,
        to_user_id: impl Into<String>,
        payload: serde_json::Value,
    ) -> Result<(), WireError> {
        let body = RequestBody::Relay(Relay {
            call_id: call_id.into(),
            to_user_id: to_user_id.into(),
            payload,
        });
        match self.request(body).await? {
            ResponseBody::Relay => Ok(()),
            other => Err(unexpected("Relay", &other)),
        }
    }
}

impl Requests for WireClient {
    async fn request(&self, body: RequestBody) -> Result<ResponseBody, WireError> {
        WireClient::request(self, body).await
    }
}
