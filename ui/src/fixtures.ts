// Sample snapshots for the preview harness and the tests. Not imported by main.ts, so
// it never reaches the production bundle.
import type { MediaView, PeerView } from "./media/controller";
import type { HostOutcome } from "./media/host";
import type { CallView, Connection, HistoryEntry, Member, Settings, Snapshot } from "./types";

export const SETTINGS: Settings = {
  serverUrl: "ws://127.0.0.1:7070/ws",
  userId: "alice",
  userName: "Alice Martin",
  token: null,
};

export const CONNECTED: Connection = { state: "connected" };
export const RECONNECTING: Connection = { state: "reconnecting", attempt: 3, reason: "connection reset" };
export const DISCONNECTED: Connection = { state: "disconnected", reason: "login refused: bad token" };

export function member(userId: string, name: string, state: Member["state"], reason: Member["reason"] = null): Member {
  return { userId, name, state, reason };
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return { userId: "alice", userName: "Alice Martin", phase: "free", call: null, connection: CONNECTED, doNotDisturb: false, ...over };
}

export function outgoingCall(now: number, peers: Member[], over: Partial<CallView> = {}): CallView {
  return {
    callId: "call-out-1",
    direction: "outgoing",
    callType: "voice",
    callerId: "alice",
    callerName: "Alice Martin",
    peers,
    group: peers.length > 1,
    createdAt: now - 12_000,
    startedAt: null,
    ringUntil: null,
    working: false,
    ...over,
  };
}

export function incomingCall(now: number, over: Partial<CallView> = {}): CallView {
  return {
    callId: "call-in-1",
    direction: "incoming",
    callType: "voice",
    callerId: "bob",
    callerName: "Bob Chen",
    peers: [member("bob", "Bob Chen", "accepted")],
    group: false,
    createdAt: now - 4_000,
    startedAt: null,
    ringUntil: now + 56_000,
    working: false,
    ...over,
  };
}

/** The people of the preview's and the tests' group calls, in join order. */
export const GROUP_PEOPLE: [string, string][] = [
  ["bob", "Bob Chen"],
  ["carol", "Carol Diaz"],
  ["dan", "dan"],
  ["erin", "Erin Novak"],
  ["frank", "Frank Osei"],
  ["gus", "gus"],
  ["hana", "Hana Sato"],
  ["ivan", "Ivan Petrov"],
  ["judy", "Judy Kim"],
];

/** A group call alice placed, with `others` of GROUP_PEOPLE in it (all accepted). */
export function groupCall(now: number, others: number, callType: CallView["callType"] = "video"): Snapshot {
  const peers = GROUP_PEOPLE.slice(0, others).map(([id, name]) => member(id, name, "accepted"));
  return snapshot({ phase: "inCall", call: outgoingCall(now, peers, { startedAt: now - 754_000, callType, group: true }) });
}

export const fixtures = {
  waitingRinging: (now: number): Snapshot =>
    snapshot({ phase: "outgoing", call: outgoingCall(now, [member("bob", "bob", "received")]) }),
  waitingPlacing: (now: number): Snapshot =>
    snapshot({ phase: "outgoing", call: outgoingCall(now, [member("bob", "bob", "inviting")], { callId: null }) }),
  waitingOffline: (now: number): Snapshot =>
    snapshot({ phase: "outgoing", call: outgoingCall(now, [member("dan", "dan", "inviting")], { callType: "video" }) }),
  waitingGroup: (now: number): Snapshot =>
    snapshot({
      phase: "outgoing",
      call: outgoingCall(now, [
        member("bob", "bob", "received"),
        member("carol", "carol", "rejected", "declined"),
        member("dan", "dan", "inviting"),
      ]),
    }),
  calling: (now: number): Snapshot =>
    snapshot({
      phase: "inCall",
      call: outgoingCall(now, [member("bob", "bob", "accepted")], { startedAt: now - 185_000, callType: "video" }),
    }),
  callingVoice: (now: number): Snapshot =>
    snapshot({
      phase: "inCall",
      call: incomingCall(now, { startedAt: now - 42_000, ringUntil: null }),
    }),
  callingGroup: (now: number): Snapshot =>
    snapshot({
      phase: "inCall",
      call: outgoingCall(
        now,
        [
          member("bob", "bob", "accepted"),
          member("carol", "carol", "received"),
          member("dan", "dan", "rejected", "busy"),
          member("erin", "erin", "quit"),
          member("frank", "frank", "inviting"),
        ],
        { startedAt: now - 754_000 },
      ),
    }),
  incoming: (now: number): Snapshot => snapshot({ phase: "incoming", call: incomingCall(now) }),
  incomingVideo: (now: number): Snapshot =>
    snapshot({ phase: "incoming", call: incomingCall(now, { callType: "video" }) }),
  incomingGroup: (now: number): Snapshot =>
    snapshot({
      phase: "incoming",
      call: incomingCall(now, {
        callType: "video",
        group: true,
        peers: [member("bob", "Bob Chen", "accepted"), member("carol", "carol", "received"), member("dan", "dan", "received")],
      }),
    }),
  incomingAccepting: (now: number): Snapshot =>
    snapshot({ phase: "incoming", call: incomingCall(now, { working: true }) }),
};

export function history(now: number): HistoryEntry[] {
  const min = 60_000;
  return [
    {
      callId: "h1",
      direction: "incoming",
      callType: "voice",
      withIds: ["bob"],
      withLabel: "Bob Chen",
      result: "missed",
      missed: true,
      busyReject: false,
      createdAt: now - 14 * min,
      talkMs: null,
    },
    {
      callId: "h2",
      direction: "outgoing",
      callType: "video",
      withIds: ["carol", "dan"],
      withLabel: "carol, dan",
      result: "answered",
      missed: false,
      busyReject: false,
      createdAt: now - 95 * min,
      talkMs: 754_000,
    },
    {
      callId: "h3",
      direction: "incoming",
      callType: "video",
      withIds: ["erin"],
      withLabel: "Erin Novak",
      result: "busy",
      missed: true,
      busyReject: true,
      createdAt: now - 130 * min,
      talkMs: null,
    },
    {
      callId: "h4",
      direction: "outgoing",
      callType: "voice",
      withIds: ["dan"],
      withLabel: "dan",
      result: "noAnswer",
      missed: false,
      busyReject: false,
      createdAt: now - 26 * 60 * min,
      talkMs: null,
    },
    {
      callId: "h5",
      direction: "incoming",
      callType: "voice",
      withIds: ["bob"],
      withLabel: "Bob Chen",
      result: "answered",
      missed: false,
      busyReject: false,
      createdAt: now - 3 * 24 * 60 * min,
      talkMs: 42_000,
    },
    {
      callId: "h6",
      direction: "outgoing",
      callType: "voice",
      withIds: ["frank"],
      withLabel: "frank",
      result: "declined",
      missed: false,
      busyReject: false,
      createdAt: now - 5 * 24 * 60 * min,
      talkMs: null,
    },
  ];
}

/**
 * Bob calling three times unanswered, then calls the host labels by ID (an outgoing call
 * names a callee only if they answered with a name), a group call, and older ones.
 */
export function missedHistory(now: number): HistoryEntry[] {
  const min = 60_000;
  const entry = (callId: string, over: Partial<HistoryEntry>): HistoryEntry => ({
    callId,
    direction: "incoming",
    callType: "voice",
    withIds: ["bob"],
    withLabel: "Bob Chen",
    result: "missed",
    missed: true,
    busyReject: false,
    createdAt: now,
    talkMs: null,
    ...over,
  });
  const out = { direction: "outgoing", missed: false } as const;
  return [
    entry("m1", { createdAt: now - 3 * min }),
    entry("m2", { createdAt: now - 9 * min, result: "cancelled" }),
    entry("m3", { createdAt: now - 20 * min }),
    entry("m4", { ...out, withLabel: "bob", result: "noAnswer", createdAt: now - 40 * min }),
    entry("m5", { callType: "video", createdAt: now - 50 * min }),
    entry("m6", { withIds: ["erin"], withLabel: "Erin Novak +2", createdAt: now - 70 * min }),
    entry("m7", { ...out, callType: "video", withIds: ["carol", "dan"], withLabel: "Carol Diaz, dan", result: "answered", talkMs: 300_000, createdAt: now - 95 * min }),
    entry("m8", { ...out, withIds: ["carol"], withLabel: "carol", result: "noAnswer", createdAt: now - 26 * 60 * min }),
    entry("m9", { withIds: ["erin"], withLabel: "Erin Novak", result: "answered", missed: false, talkMs: 60_000, createdAt: now - 3 * 24 * 60 * min }),
  ];
}

/** Every Outcome kind, for the banners. */
export const ALL_OUTCOMES: HostOutcome[] = [
  { kind: "declined" },
  { kind: "busy" },
  { kind: "noAnswer" },
  { kind: "unreachable" },
  { kind: "cancelledByCaller" },
  { kind: "missed" },
  { kind: "answeredElsewhere" },
  { kind: "declinedElsewhere" },
  { kind: "endedByPeer", by: "bob" },
  { kind: "connectionLost" },
  { kind: "cancelled" },
  { kind: "rejected" },
  { kind: "hungUp" },
  { kind: "left" },
  { kind: "failed", message: "server said: invitee list too long" },
  { kind: "mediaFailed", problem: "couldNotConnect" },
];

/** The call a Finished notice carries for an outcome: incoming outcomes get an incoming call. */
export function finishedCall(outcome: HostOutcome, now: number): CallView {
  switch (outcome.kind) {
    case "cancelledByCaller":
    case "missed":
    case "answeredElsewhere":
    case "declinedElsewhere":
    case "rejected":
      return incomingCall(now);
    case "endedByPeer":
    case "hungUp":
    case "connectionLost":
    case "mediaFailed":
      return outgoingCall(now, [member("bob", "bob", "accepted")], { startedAt: now - 185_000 });
    case "left":
      return outgoingCall(now, [member("bob", "bob", "accepted"), member("carol", "carol", "accepted")], {
        startedAt: now - 300_000,
      });
    default:
      return outgoingCall(now, [member("bob", "bob", outcome.kind === "unreachable" ? "inviting" : "rejected")]);
  }
}

/** A media module's view for the calling page; streams come from the caller (fakes in tests, canvases in the preview). */
export function mediaView(over: Partial<MediaView> = {}): MediaView {
  return {
    supported: true,
    capturing: false,
    local: null,
    hasMic: true,
    micOn: true,
    cameraOn: false,
    cameraBusy: false,
    notes: [],
    peers: [],
    playBlocked: false,
    localLevel: 0,
    speaking: null,
    videoHeldBack: false,
    sharing: false,
    canShare: true,
    devices: { microphone: [], camera: [], speaker: [], chosen: { microphone: null, camera: null, speaker: null }, canChooseSpeaker: true },
    ...over,
  };
}

export function peerView(userId: string, stream: MediaStream, over: Partial<PeerView> = {}): PeerView {
  return { userId, health: "connected", stream, hasVideo: false, remoteSending: { audio: true, video: false }, level: 0, quality: null, ...over };
}
