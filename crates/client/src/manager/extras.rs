//! What Beckon puts in `extendedData`. An invitation carries the demo app's
//! `{"type":"voice_call"|"video_call","callerUserName":"..."}`. An answer (accept,
//! decline, quit) carries `{"userName":"..."}`: the server only knows invitees by ID, and
//! this is how a caller gets to show "Bob Stone" rather than "bob".
//!
//! Any client can send anything there, so reading it never fails: a missing, malformed or
//! foreign value falls back to a voice call and the server's caller name, or to no name.

#[cfg(test)]
use serde::Deserialize;
use serde::Serialize;

use super::CallType;

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    caller_user_name: String,
}

pub(crate) fn encode(call_type: CallType, caller_name: &str) -> String {
    let kind = match call_type {
        CallType::Voice => "voice_call",
        CallType::Video => "video_call",
    };
    let wire = Wire {
        kind: kind.into(),
        caller_user_name: caller_name.into(),
    };
    serde_json::to_string(&wire).unwrap_or_default()
}

/// Reads what it can: each field is taken on its own, so a payload with a good type and a
/// broken name still yields the type.
pub(crate) fn decode(data: &str) -> (CallType, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(data) else {
        return (CallType::Voice, None);
    };
    let call_type = match map.get("type").and_then(|v| v.as_str()) {
        Some("video_call") => CallType::Video,
        _ => CallType::Voice,
    };
    (call_type, clean_name(map.get("callerUserName")))
}

pub(crate) fn encode_answer(user_name: &str) -> String {
    serde_json::json!({ "userName": user_name }).to_string()
}

/// The display name an answering member sent, if it sent one.
pub(crate) fn answer_name(data: &str) -> Option<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(data) else {
        return None;
    };
    clean_name(map.get("userName"))
}

/// How to show a member: by the name it answered with, else by its ID.
pub(crate) fn member_name(u: &beckon_protocol::CallUserInfo) -> String {
    answer_name(&u.extended_data).unwrap_or_else(|| u.user_id.clone())
}

fn clean_name(value: Option<&serde_json::Value>) -> Option<String> {
    value
        .and_then(|v| v.as_str())
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data = encode(CallType::Video, "Alice \"A\"");
        assert_eq!(decode(&data), (CallType::Video, Some("Alice \"A\"".into())));
        let _: Wire = serde_json::from_str(&data).unwrap();
    }

    #[test]
    fn foreign_or_broken_data_is_a_voice_call_without_a_name() {
        for data in [
            "",
            "busy",
            "{",
            "[1,2]",
            "null",
            "{\"type\":7}",
            "{\"callerUserName\":{}}",
        ] {
            assert_eq!(decode(data), (CallType::Voice, None), "{data}");
        }
        assert_eq!(
            decode("{\"type\":\"video_call\",\"callerUserName\":42}"),
            (CallType::Video, None)
        );
        assert_eq!(
            decode("{\"type\":\"hologram\",\"callerUserName\":\" \"}").1,
            None
        );
    }

    #[test]
    fn answers_carry_the_name_and_foreign_answers_none() {
        assert_eq!(
            answer_name(&encode_answer("Bob \"B\" Stone")),
            Some("Bob \"B\" Stone".into())
        );
        for data in [
            "",
            "busy",
            "{}",
            "{\"userName\":\"  \"}",
            "{\"userName\":3}",
            "[\"x\"]",
        ] {
            assert_eq!(answer_name(data), None, "{data}");
        }
        assert_eq!(
            answer_name(&encode_answer(&"x".repeat(100))).map(|n| n.len()),
            Some(64)
        );
    }
}
