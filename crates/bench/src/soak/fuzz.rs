//! Fuzzing connections: every frame is a mutation of a valid request (bytes flipped, cut,
//! spliced, values swapped for the wrong type), or something the protocol forbids outright
//! (invalid UTF-8 in a text frame, binary frames, reserved opcodes, oversized frames).
//! Half of them log in first, so the mutations also reach the logged-in paths.

use std::net::SocketAddr;
use std::time::Duration;

use beckon_protocol::limits::{HARD_MAX_FRAME_BYTES, MAX_FRAME_BYTES};
use beckon_protocol::{
    CallAnswer, CallCancel, CallInvite, CallMode, CallReject, CallingInvite, Login,
    QueryCallInvitationList, RejectReason, Relay, Request, RequestBody,
};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use super::tally::{self, CloseWatch, Ended, Stats};

/// One fuzzed frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Fuzzed {
    /// Valid UTF-8 text: a mutated or wrong-typed request, or random characters.
    Text(String),
    /// A text frame whose payload is not UTF-8.
    InvalidUtf8(Vec<u8>),
    Binary(Vec<u8>),
    /// A data frame with a reserved opcode (3 to 7).
    ReservedOpcode(u8),
    /// A text frame of this many bytes: past the soft limit (answered with an error) or
    /// past the hard one (the connection is closed).
    Oversized(usize),
}

impl Fuzzed {
    pub fn into_message(self) -> Message {
        match self {
            Fuzzed::Text(text) => Message::text(text),
            Fuzzed::InvalidUtf8(bytes) => {
                Message::Frame(Frame::message(bytes, OpCode::Data(Data::Text), true))
            }
            Fuzzed::Binary(bytes) => Message::binary(bytes),
            Fuzzed::ReservedOpcode(op) => Message::Frame(Frame::message(
                b"{}".to_vec(),
                OpCode::Data(Data::Reserved(op)),
                true,
            )),
            Fuzzed::Oversized(len) => Message::text(oversized_text(len)),
        }
    }
}

/// Valid requests of every kind, the material the mutations start from. Built from the
/// protocol types so the field names stay the server's. They name only fuzz users, so the
/// healthy pair is never called by a fuzzer (its latency would then be the fuzzer's).
pub fn seeds() -> Vec<String> {
    let call_id = "c-0123456789abcdef".to_string();
    let answer = CallAnswer {
        call_id: call_id.clone(),
        extended_data: "x".into(),
    };
    let bodies = vec![
        RequestBody::Login(Login {
            user_id: "fuzz".into(),
            user_name: "Fuzz".into(),
            token: None,
            device_id: Some("d1".into()),
        }),
        RequestBody::Logout,
        RequestBody::Heartbeat,
        RequestBody::CallInvite(CallInvite {
            invitees: vec!["fz1".into(), "nobody".into()],
            timeout: Some(5),
            mode: CallMode::Advanced,
            extended_data: "hello".into(),
            push_config: None,
        }),
        RequestBody::CallCancel(CallCancel {
            call_id: call_id.clone(),
            invitees: vec!["fz1".into()],
            extended_data: String::new(),
        }),
        RequestBody::CallAccept(answer.clone()),
        RequestBody::CallReject(CallReject {
            call_id: call_id.clone(),
            extended_data: String::new(),
            reason: RejectReason::Busy,
        }),
        RequestBody::CallingInvite(CallingInvite {
            call_id: call_id.clone(),
            invitees: vec!["fz1".into()],
            timeout: Some(10),
            extended_data: String::new(),
            push_config: None,
        }),
        RequestBody::CallJoin(answer.clone()),
        RequestBody::CallQuit(answer.clone()),
        RequestBody::CallEnd(answer),
        RequestBody::QueryCallInvitationList(QueryCallInvitationList {
            count: 100,
            next_flag: 0,
        }),
        RequestBody::Relay(Relay {
            call_id,
            to_user_id: "fz1".into(),
            payload: serde_json::json!({"sdp": "v=0", "n": [1, 2, 3]}),
        }),
        RequestBody::QueryIceConfig,
    ];
    bodies
        .into_iter()
        .enumerate()
        .filter_map(|(i, body)| {
            serde_json::to_string(&Request {
                id: 1_000 + i as u64,
                body,
            })
            .ok()
        })
        .collect()
}

/// Picks the next frame. Most frames are text the server must parse and refuse; a few
/// percent are the kinds that end the connection.
pub fn next_frame(rng: &mut impl Rng, seeds: &[String]) -> Fuzzed {
    let seed = seeds.choose(rng).map(String::as_str).unwrap_or("{}");
    match rng.random_range(0..100) {
        0..=54 => Fuzzed::Text(mutate_bytes(rng, seed)),
        55..=79 => Fuzzed::Text(wrong_types(rng, seed)),
        80..=86 => Fuzzed::Text(random_text(rng)),
        87..=89 => Fuzzed::InvalidUtf8(invalid_utf8(rng, seed)),
        90..=92 => Fuzzed::Binary(seed.as_bytes().to_vec()),
        93..=94 => Fuzzed::ReservedOpcode(rng.random_range(3..=7)),
        95..=98 => Fuzzed::Oversized(MAX_FRAME_BYTES + rng.random_range(1..4096)),
        _ => Fuzzed::Oversized(HARD_MAX_FRAME_BYTES + rng.random_range(1..4096)),
    }
}

/// Byte-level damage, kept valid UTF-8 (lossily) so the frame reaches the JSON parser.
pub fn mutate_bytes(rng: &mut impl Rng, seed: &str) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if bytes.is_empty() {
            bytes.push(b'{');
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..6) {
            0 => bytes[at] ^= 1 << rng.random_range(0..7),
            1 => {
                let end = (at + rng.random_range(1..16)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let token: &[u8] = [
                    b"\"".as_slice(),
                    b"{",
                    b"}",
                    b"[",
                    b"]",
                    b",",
                    b":",
                    b"null",
                    b"-1",
                    b"1e999",
                    b"\\u0000",
                    b"\\ud800",
                ]
                .choose(rng)
                .copied()
                .unwrap_or(b"{");
                bytes.splice(at..at, token.iter().copied());
            }
            3 => bytes.truncate(at),
            4 => {
                let end = (at + rng.random_range(1..32)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                bytes.splice(at..at, chunk);
            }
            _ => bytes[at] = rng.random(),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Well-formed JSON with one value replaced by something of the wrong type or range.
pub fn wrong_types(rng: &mut impl Rng, seed: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(seed) else {
        return seed.to_owned();
    };
    if let Value::Object(map) = &mut value {
        let keys: Vec<String> = map.keys().cloned().collect();
        if let Some(key) = keys.choose(rng) {
            map.insert(key.clone(), odd_value(rng));
        }
        if rng.random_bool(0.2) {
            map.insert("unexpected".into(), odd_value(rng));
        }
    }
    value.to_string()
}

fn odd_value(rng: &mut impl Rng) -> Value {
    match rng.random_range(0..10) {
        0 => Value::Null,
        1 => Value::from(-1),
        2 => Value::from(u64::MAX),
        3 => Value::from(1.5e300),
        4 => Value::from("x".repeat(rng.random_range(0..300))),
        5 => Value::Bool(true),
        6 => serde_json::json!([]),
        7 => serde_json::json!({"type": "login"}),
        8 => Value::from("callInvite"),
        // Nesting past serde_json's default depth limit of 128, but far from any stack.
        _ => {
            let mut nested = serde_json::json!([]);
            for _ in 0..rng.random_range(1..200) {
                nested = Value::Array(vec![nested]);
            }
            nested
        }
    }
}

fn random_text(rng: &mut impl Rng) -> String {
    let len = rng.random_range(0..512);
    (0..len).map(|_| rng.random::<char>()).collect()
}

/// A request with a byte sequence no UTF-8 decoder accepts spliced into it.
pub fn invalid_utf8(rng: &mut impl Rng, seed: &str) -> Vec<u8> {
    let bad: &[u8] = [
        [0xC3u8, 0x28].as_slice(),
        &[0xFF],
        &[0xED, 0xA0, 0x80],
        &[0xF0, 0x28, 0x8C],
    ]
    .choose(rng)
    .copied()
    .unwrap_or(&[0xFF]);
    let mut bytes = seed.as_bytes().to_vec();
    let at = rng.random_range(0..=bytes.len());
    bytes.splice(at..at, bad.iter().copied());
    bytes
}

fn oversized_text(len: usize) -> String {
    let mut text = String::with_capacity(len);
    text.push_str(r#"{"type":"heartbeat","id":1,"pad":""#);
    while text.len() + 2 < len {
        text.push('x');
    }
    text.push_str("\"}");
    text
}

pub async fn worker(
    addr: SocketAddr,
    index: u32,
    rate: u32,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) -> Stats {
    let mut stats = Stats::default();
    let mut rng = StdRng::seed_from_u64(seed ^ u64::from(index).wrapping_mul(0x9E37_79B9));
    let seeds = seeds();
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    while !*stop.borrow() {
        stats.connections += 1;
        let ws = tokio::select! {
            ws = tally::connect(addr) => ws,
            _ = tally::stopped(&mut stop) => break,
        };
        let ws = match ws {
            Ok(ws) => ws,
            Err(reason) => {
                stats.refused(reason);
                tally::pause(&mut stop).await;
                continue;
            }
        };
        let (mut sink, mut stream) = ws.split();
        let mut watch = CloseWatch::default();
        if index.is_multiple_of(2) {
            let login = Request {
                id: 1,
                body: RequestBody::Login(Login {
                    user_id: format!("fz{index}"),
                    user_name: "Fuzz".into(),
                    token: None,
                    device_id: Some("fuzz".into()),
                }),
            };
            if let Ok(text) = serde_json::to_string(&login) {
                let _ = sink.send(Message::text(text)).await;
            }
        }
        let mut tick = tokio::time::interval(period);
        let end = loop {
            tokio::select! {
                _ = tally::stopped(&mut stop) => break None,
                msg = stream.next() => match msg {
                    Some(Ok(msg)) => if let Some(reason) = watch.on_message(&msg) {
                        break Some(Ended::Read(reason));
                    },
                    Some(Err(e)) => break Some(Ended::Read(watch.on_error(&e))),
                    None => break Some(Ended::Read(watch.on_eof())),
                },
                _ = tick.tick() => {
                    let msg = next_frame(&mut rng, &seeds).into_message();
                    tokio::select! {
                        sent = sink.send(msg) => match sent {
                            Ok(()) => stats.sent += 1,
                            Err(e) => break Some(Ended::Write(watch.on_error(&e))),
                        },
                        _ = tally::stopped(&mut stop) => break None,
                    }
                }
            }
        };
        match end {
            Some(Ended::Read(reason)) => {
                stats.cut(reason);
                tally::pause(&mut stop).await;
            }
            Some(Ended::Write(error)) => {
                stats.cut(tally::drain_reason(&mut stream, &mut watch, error).await);
                tally::pause(&mut stop).await;
            }
            None => stats.open_at_end += 1,
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_is_a_request_the_server_would_accept() {
        let seeds = seeds();
        assert_eq!(seeds.len(), beckon_protocol::RequestKind::ALL.len());
        for seed in &seeds {
            assert!(Request::parse(seed).is_ok(), "{seed}");
        }
    }

    #[test]
    fn frames_are_the_kind_they_claim_and_bounded_in_size() {
        let mut rng = StdRng::seed_from_u64(7);
        let seeds = seeds();
        let mut kinds = [0u32; 5];
        for _ in 0..20_000 {
            match next_frame(&mut rng, &seeds) {
                Fuzzed::Text(text) => {
                    kinds[0] += 1;
                    assert!(text.len() < MAX_FRAME_BYTES, "{} bytes", text.len());
                }
                Fuzzed::InvalidUtf8(bytes) => {
                    kinds[1] += 1;
                    assert!(std::str::from_utf8(&bytes).is_err());
                }
                Fuzzed::Binary(_) => kinds[2] += 1,
                Fuzzed::ReservedOpcode(op) => {
                    kinds[3] += 1;
                    assert!((3..=7).contains(&op));
                }
                Fuzzed::Oversized(len) => {
                    kinds[4] += 1;
                    assert!(len > MAX_FRAME_BYTES && len < HARD_MAX_FRAME_BYTES + 4096);
                    assert_eq!(oversized_text(len).len(), len);
                }
            }
        }
        assert!(kinds.iter().all(|&n| n > 0), "{kinds:?}");
    }

    #[test]
    fn wrong_types_stay_json_but_break_the_request() {
        let mut rng = StdRng::seed_from_u64(1);
        let seeds = seeds();
        let mut refused = 0;
        for i in 0..2_000 {
            let text = wrong_types(&mut rng, &seeds[i % seeds.len()]);
            let too_deep = text.contains(&"[".repeat(120));
            assert!(
                too_deep || serde_json::from_str::<Value>(&text).is_ok(),
                "{text}"
            );
            if Request::parse(&text).is_err() {
                refused += 1;
            }
        }
        // Some swaps are harmless (a string for a string), most are not.
        assert!(refused > 1_000, "only {refused} of 2000 were refused");
    }
}
