//! Turning a text frame into a [`Request`], with an error a person can act on for every
//! way it can be wrong. Shared by the server (to answer) and clients (to check early).

use serde_json::Value;

use crate::limits::*;
use crate::{ErrorBody, ErrorCode, PushConfig, Request, RequestBody, RequestKind};

/// Why a request was refused before reaching any call logic.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid(pub ErrorBody);

/// True for a user or device ID the server accepts.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'+' | b'-'))
}

impl Request {
    /// Parses and checks one text frame. The error carries the request's id whenever the
    /// frame had a readable one, so the client can match it to its request.
    pub fn parse(text: &str) -> Result<Request, Invalid> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            invalid(
                None,
                ErrorCode::MalformedJson,
                format!("frame is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(map) = &value else {
            return Err(invalid(
                None,
                ErrorCode::InvalidRequest,
                "frame must be a JSON object",
            ));
        };
        let id = match map.get("id") {
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(_) => {
                return Err(invalid(
                    None,
                    ErrorCode::InvalidRequest,
                    "field `id` must be a non-negative integer",
                ))
            }
            None => {
                return Err(invalid(
                    None,
                    ErrorCode::InvalidRequest,
                    "missing field `id` (every request needs one)",
                ))
            }
        };
        let kind = match map.get("type") {
            Some(Value::String(t)) => t.parse::<RequestKind>().map_err(|_| {
                invalid(
                    id,
                    ErrorCode::UnknownType,
                    format!("unknown request type `{t}`"),
                )
            })?,
            _ => {
                return Err(invalid(
                    id,
                    ErrorCode::UnknownType,
                    "missing or non-string field `type`",
                ))
            }
        };
        let body = body_of(kind, &value).map_err(|m| invalid(id, ErrorCode::InvalidRequest, m))?;
        body.validate()
            .map_err(|m| invalid(id, ErrorCode::InvalidRequest, m))?;
        Ok(Request {
            id: id.unwrap_or_default(),
            body,
        })
    }
}

/// Deserializes the body as the struct its `type` names (not through the tagged enum,
/// which buffers its input and loses the path), so an error can name the field.
fn body_of(kind: RequestKind, value: &Value) -> Result<RequestBody, String> {
    fn de<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.inner().to_string()
            } else {
                format!("field `{path}`: {}", e.inner())
            }
        })
    }
    Ok(match kind {
        RequestKind::Login => RequestBody::Login(de(value)?),
        RequestKind::Logout => RequestBody::Logout,
        RequestKind::Heartbeat => RequestBody::Heartbeat,
        RequestKind::CallInvite => RequestBody::CallInvite(de(value)?),
        RequestKind::CallCancel => RequestBody::CallCancel(de(value)?),
        RequestKind::CallAccept => RequestBody::CallAccept(de(value)?),
        RequestKind::CallReject => RequestBody::CallReject(de(value)?),
        RequestKind::CallingInvite => RequestBody::CallingInvite(de(value)?),
        RequestKind::CallJoin => RequestBody::CallJoin(de(value)?),
        RequestKind::CallQuit => RequestBody::CallQuit(de(value)?),
        RequestKind::CallEnd => RequestBody::CallEnd(de(value)?),
        RequestKind::QueryCallInvitationList => RequestBody::QueryCallInvitationList(de(value)?),
        RequestKind::Relay => RequestBody::Relay(de(value)?),
        RequestKind::QueryIceConfig => RequestBody::QueryIceConfig,
    })
}

fn invalid(id: Option<u64>, code: ErrorCode, msg: impl Into<String>) -> Invalid {
    Invalid(ErrorBody::new(id, code, msg))
}

impl RequestBody {
    /// Checks every limit in [`crate::limits`] that a request can break on its own.
    /// Invitee IDs are not checked here: a bad one is reported per invitee, not per request.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            RequestBody::Login(l) => {
                check_id("userId", &l.user_id)?;
                if l.user_name.is_empty() || l.user_name.len() > MAX_USER_NAME_BYTES {
                    return Err(format!(
                        "`userName` must be 1 to {MAX_USER_NAME_BYTES} bytes"
                    ));
                }
                if let Some(d) = &l.device_id {
                    check_id("deviceId", d)?;
                }
                Ok(())
            }
            RequestBody::Logout | RequestBody::Heartbeat | RequestBody::QueryIceConfig => Ok(()),
            RequestBody::CallInvite(c) => {
                check_invitees(&c.invitees)?;
                check_timeout(c.timeout)?;
                check_extended(&c.extended_data)?;
                check_push(c.push_config.as_ref())
            }
            RequestBody::CallingInvite(c) => {
                check_call_id(&c.call_id)?;
                check_invitees(&c.invitees)?;
                check_timeout(c.timeout)?;
                check_extended(&c.extended_data)?;
                check_push(c.push_config.as_ref())
            }
            RequestBody::CallCancel(c) => {
                check_call_id(&c.call_id)?;
                if c.invitees.len() > MAX_CALL_MEMBERS {
                    return Err(format!("`invitees` has more than {MAX_CALL_MEMBERS} users"));
                }
                check_extended(&c.extended_data)
            }
            RequestBody::CallAccept(a)
            | RequestBody::CallJoin(a)
            | RequestBody::CallQuit(a)
            | RequestBody::CallEnd(a) => {
                check_call_id(&a.call_id)?;
                check_extended(&a.extended_data)
            }
            RequestBody::CallReject(r) => {
                check_call_id(&r.call_id)?;
                check_extended(&r.extended_data)
            }
            RequestBody::QueryCallInvitationList(q) => {
                if q.count == 0 || q.count > MAX_QUERY_COUNT {
                    return Err(format!("`count` must be 1 to {MAX_QUERY_COUNT}"));
                }
                Ok(())
            }
            RequestBody::Relay(r) => {
                check_call_id(&r.call_id)?;
                check_id("toUserId", &r.to_user_id)
            }
        }
    }
}

fn check_id(field: &str, id: &str) -> Result<(), String> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(format!(
            "`{field}` must be 1 to {MAX_ID_BYTES} characters of A-Z a-z 0-9 _ . @ + -"
        ))
    }
}

fn check_call_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        Err(format!("`callId` must be 1 to {MAX_ID_BYTES} bytes"))
    } else {
        Ok(())
    }
}

fn check_invitees(invitees: &[String]) -> Result<(), String> {
    if invitees.is_empty() || invitees.len() > MAX_INVITEES_PER_REQUEST {
        return Err(format!(
            "`invitees` must name 1 to {MAX_INVITEES_PER_REQUEST} users"
        ));
    }
    Ok(())
}

fn check_timeout(t: Option<u32>) -> Result<(), String> {
    match t {
        Some(t) if !(MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&t) => Err(format!(
            "`timeout` must be {MIN_TIMEOUT_SECS} to {MAX_TIMEOUT_SECS} seconds"
        )),
        _ => Ok(()),
    }
}

fn check_extended(data: &str) -> Result<(), String> {
    if data.len() > MAX_EXTENDED_DATA_BYTES {
        Err(format!(
            "`extendedData` is {} bytes; the limit is {MAX_EXTENDED_DATA_BYTES}",
            data.len()
        ))
    } else {
        Ok(())
    }
}

fn check_push(p: Option<&PushConfig>) -> Result<(), String> {
    let Some(p) = p else { return Ok(()) };
    for (field, value, max) in [
        ("pushConfig.title", &p.title, MAX_PUSH_TITLE_BYTES),
        ("pushConfig.content", &p.content, MAX_PUSH_CONTENT_BYTES),
        ("pushConfig.payload", &p.payload, MAX_PUSH_PAYLOAD_BYTES),
    ] {
        if value.len() > max {
            return Err(format!("`{field}` is longer than {max} bytes"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(text: &str) -> (Option<u64>, ErrorCode) {
        let e = Request::parse(text).unwrap_err().0;
        (e.id, e.code)
    }

    #[test]
    fn parses_a_good_invite() {
        let r = Request::parse(
            r#"{"type":"callInvite","id":3,"invitees":["bob"],"timeout":30,"mode":"advanced"}"#,
        )
        .unwrap();
        assert_eq!(r.id, 3);
        let RequestBody::CallInvite(c) = r.body else {
            panic!()
        };
        assert_eq!(c.timeout, Some(30));
        assert_eq!(c.mode, crate::CallMode::Advanced);
    }

    #[test]
    fn every_kind_of_bad_frame_has_its_code() {
        assert_eq!(code_of("{nope"), (None, ErrorCode::MalformedJson));
        assert_eq!(code_of("[1]"), (None, ErrorCode::InvalidRequest));
        assert_eq!(
            code_of(r#"{"type":"logout"}"#),
            (None, ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code_of(r#"{"type":"fly","id":1}"#),
            (Some(1), ErrorCode::UnknownType)
        );
        assert_eq!(code_of(r#"{"id":2}"#), (Some(2), ErrorCode::UnknownType));
        assert_eq!(
            code_of(r#"{"type":"callAccept","id":4}"#),
            (Some(4), ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code_of(r#"{"type":"callAccept","id":5,"callId":7}"#),
            (Some(5), ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code_of(r#"{"type":"callInvite","id":6,"invitees":[],"timeout":5}"#),
            (Some(6), ErrorCode::InvalidRequest)
        );
        assert_eq!(
            code_of(r#"{"type":"callInvite","id":7,"invitees":["b"],"timeout":601}"#),
            (Some(7), ErrorCode::InvalidRequest)
        );
        let big = "x".repeat(MAX_EXTENDED_DATA_BYTES + 1);
        let frame =
            format!(r#"{{"type":"callAccept","id":8,"callId":"c","extendedData":"{big}"}}"#);
        assert_eq!(code_of(&frame), (Some(8), ErrorCode::InvalidRequest));
        assert_eq!(
            code_of(r#"{"type":"login","id":9,"userId":"a b","userName":"A"}"#),
            (Some(9), ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn messages_name_the_field() {
        let e = Request::parse(r#"{"type":"callAccept","id":4}"#)
            .unwrap_err()
            .0;
        assert!(e.message.contains("callId"), "{}", e.message);
        let e = Request::parse(r#"{"type":"callAccept","id":4,"callId":7}"#)
            .unwrap_err()
            .0;
        assert!(e.message.contains("`callId`"), "{}", e.message);
        let e = Request::parse(r#"{"type":"callInvite","id":4,"invitees":["a",3]}"#)
            .unwrap_err()
            .0;
        assert!(e.message.contains("`invitees[1]`"), "{}", e.message);
    }

    /// Every request kind's name is the same for serde (the wire) and for [`RequestKind`]
    /// (logs, metrics, `body_of`): it parses to its own kind and serializes back to it.
    #[test]
    fn every_kind_round_trips() {
        use strum::VariantArray;
        for &kind in RequestKind::VARIANTS {
            let frame = match kind {
                RequestKind::Login => r#"{"userId":"a","userName":"A"}"#,
                RequestKind::Logout | RequestKind::Heartbeat | RequestKind::QueryIceConfig => "{}",
                RequestKind::CallInvite => r#"{"invitees":["b"]}"#,
                RequestKind::CallingInvite => r#"{"callId":"c","invitees":["b"]}"#,
                RequestKind::QueryCallInvitationList => r#"{"count":5}"#,
                RequestKind::Relay => r#"{"callId":"c","toUserId":"b","payload":{"x":1}}"#,
                RequestKind::CallCancel
                | RequestKind::CallAccept
                | RequestKind::CallReject
                | RequestKind::CallJoin
                | RequestKind::CallQuit
                | RequestKind::CallEnd => r#"{"callId":"c"}"#,
            };
            let mut v: Value = serde_json::from_str(frame).unwrap();
            v["type"] = Value::from(kind.as_str());
            v["id"] = Value::from(1);
            let r = Request::parse(&v.to_string()).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
            assert_eq!(r.body.kind(), kind);
            let back: Value = serde_json::to_value(&r).unwrap();
            assert_eq!(back["type"], Value::from(kind.as_str()));
            // Through serde's own tagged enum too, not only through `body_of`.
            let tagged: RequestBody = serde_json::from_value(v).unwrap();
            assert_eq!(tagged.kind(), kind);
            assert_eq!(kind.as_str().parse::<RequestKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("alice.b+1@x-y_z"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(&"a".repeat(65)));
    }
}
