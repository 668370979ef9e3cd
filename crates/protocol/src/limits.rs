//! Every limit the server enforces, in one place. A request past a limit gets
//! `invalidRequest` (or the code named on the constant), never a silent truncation.

/// Invitees in one `callInvite` or `callingInvite`.
pub const MAX_INVITEES_PER_REQUEST: usize = 9;
/// Distinct users ever in one call, the caller included (ZIM's cap). Code `callFull`.
pub const MAX_CALL_MEMBERS: usize = 10;
/// Invitation timeout in seconds, inclusive range, and the default when omitted.
pub const MIN_TIMEOUT_SECS: u32 = 1;
pub const MAX_TIMEOUT_SECS: u32 = 600;
pub const DEFAULT_TIMEOUT_SECS: u32 = 90;
/// Silence after which the server ends a session, unless its operator set another value.
/// A client assumes it when the `login` answer does not say (a server from before the
/// field): the server's own value always wins.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 30_000;
/// The heartbeat interval is this fraction of the timeout: two missed beats still leave
/// a third before the server gives up.
pub const HEARTBEATS_PER_TIMEOUT: u64 = 3;
/// `extendedData` on any request, in UTF-8 bytes.
pub const MAX_EXTENDED_DATA_BYTES: usize = 4096;
/// Push configuration fields, in UTF-8 bytes.
pub const MAX_PUSH_TITLE_BYTES: usize = 256;
pub const MAX_PUSH_CONTENT_BYTES: usize = 1024;
pub const MAX_PUSH_PAYLOAD_BYTES: usize = 4096;
/// User and device IDs: 1 to 64 bytes of `A-Z a-z 0-9 _ . @ + -`.
pub const MAX_ID_BYTES: usize = 64;
/// Display names, in UTF-8 bytes (1 or more).
pub const MAX_USER_NAME_BYTES: usize = 256;
/// Devices of one user online at once. Code `tooManyDevices` past it.
pub const MAX_DEVICES_PER_USER: usize = 10;
/// `count` of `queryCallInvitationList`, inclusive range.
pub const MAX_QUERY_COUNT: u32 = 100;
/// A `queryCallInvitationList` answer stops adding calls before it grows past this many
/// bytes of JSON: the page is shorter than `count`, and `nextFlag` continues after it.
/// One call always fits.
pub const MAX_QUERY_ANSWER_BYTES: usize = 256 * 1024;
/// `queryCallInvitationList` requests one connection may have unanswered; they are run
/// one at a time, and past this many the request gets `rateLimited`.
pub const MAX_QUERIES_PENDING: usize = 4;
/// A text frame larger than this gets `frameTooLarge` and is dropped; the connection lives.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// A frame larger than this closes the connection (WebSocket close code 1009): the server
/// will not buffer it to find out what it was.
pub const HARD_MAX_FRAME_BYTES: usize = 256 * 1024;
/// Requests per second per connection (sustained) and the burst allowed above it.
pub const REQUESTS_PER_SEC: u32 = 50;
pub const REQUEST_BURST: u32 = 100;
/// Requests refused for rate, with no quiet second between them, before the server closes
/// the connection (`sessionClosed{flooding}`, close code 1008). A client that honours
/// `rateLimited` stops long before this; each refusal costs the server an answer, so a
/// flooder is cut after a few.
pub const MAX_RATE_LIMITED_REFUSALS: u32 = 20;
/// Frames, and bytes, queued for one connection; a reader slower than this is disconnected
/// (`sessionClosed{slowConsumer}`, close code 1008) rather than let server memory grow.
pub const OUTBOUND_QUEUE_FRAMES: usize = 256;
pub const OUTBOUND_QUEUE_BYTES: usize = 1024 * 1024;
/// When the queues of all connections together exceed the server's budget
/// (`--outbound-budget-mb`), a connection with more than this queued is disconnected the
/// same way.
pub const OUTBOUND_SHARE_BYTES: usize = 64 * 1024;
/// Time from the WebSocket upgrade to a successful `login`, in seconds, by default
/// (`--login-timeout`). Heartbeats do not extend it. Past it: `sessionClosed{loginTimeout}`,
/// close code 1008.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = 10;
/// Lifetime of the TURN credentials the server mints (`--turn-ttl`), in seconds: the
/// default, and the bounds the server accepts. Shorter than a minute, a client would be
/// refreshing all the time; longer than a week, a leaked credential works too long.
pub const DEFAULT_TURN_TTL_SECS: u64 = 12 * 3600;
pub const MIN_TURN_TTL_SECS: u64 = 60;
pub const MAX_TURN_TTL_SECS: u64 = 7 * 24 * 3600;
/// A client asks for fresh TURN credentials (`queryIceConfig`) once the ones it has are
/// within this fraction of their lifetime of expiring, and never later than
/// [`MIN_ICE_REFRESH_MARGIN_MS`] before: a call being set up needs them for its whole ICE
/// negotiation, and the clocks of client and TURN server may disagree a little.
pub const ICE_REFRESH_FRACTION: u64 = 4;
pub const MIN_ICE_REFRESH_MARGIN_MS: u64 = 60_000;
