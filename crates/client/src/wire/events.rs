use beckon_protocol::ServerMessage;

use crate::stream::EventStream;

/// The frames the server pushed on one connection, in arrival order: every event, plus any
/// `response` or `error` frame that matched no waiting request (for example the answer to
/// a frame sent with [`WireClient::send_raw`](super::WireClient::send_raw), or an error
/// about a frame too broken to carry an id).
///
/// The buffer is bounded: while it is full the connection stops reading the socket, so
/// answers to requests stall too. Keep reading it, or drop it if you do not care about
/// events (pushed events are then discarded).
pub type Events = EventStream<ServerMessage>;
