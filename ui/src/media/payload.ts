// The JSON relayed between two media modules through the host. The host and the server
// treat it as opaque, so it is untrusted here: anything malformed is dropped (and logged)
// instead of reaching the peer connection.

export const PAYLOAD_VERSION = 1;

/**
 * What the sender currently sends, so the other side can show "muted" / an avatar, and a
 * shared screen whole rather than cropped like a face (`screen`, absent from older apps).
 */
export type SendingState = { audio: boolean; video: boolean; screen?: boolean };

export type Payload =
  | { v: number; description: { type: "offer" | "answer"; sdp: string } }
  | { v: number; candidate: RTCIceCandidateInit | null }
  | { v: number; sending: SendingState };

const MAX_SDP = 200_000;
const MAX_CANDIDATE = 4_000;

export function descriptionPayload(d: RTCSessionDescription | RTCSessionDescriptionInit): Payload {
  return { v: PAYLOAD_VERSION, description: { type: d.type as "offer" | "answer", sdp: d.sdp ?? "" } };
}

export function candidatePayload(c: RTCIceCandidate | null): Payload {
  if (!c) return { v: PAYLOAD_VERSION, candidate: null };
  const init: RTCIceCandidateInit = { candidate: c.candidate };
  if (c.sdpMid !== null && c.sdpMid !== undefined) init.sdpMid = c.sdpMid;
  if (c.sdpMLineIndex !== null && c.sdpMLineIndex !== undefined) init.sdpMLineIndex = c.sdpMLineIndex;
  if (c.usernameFragment) init.usernameFragment = c.usernameFragment;
  return { v: PAYLOAD_VERSION, candidate: init };
}

export function sendingPayload(s: SendingState): Payload {
  return { v: PAYLOAD_VERSION, sending: { audio: s.audio, video: s.video, ...(s.screen ? { screen: true } : {}) } };
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const optStr = (x: unknown): boolean => x === undefined || x === null || typeof x === "string";

/**
 * The payload, rebuilt from known fields only, or a reason it is refused. A newer major
 * version is refused too: its meaning may have changed.
 */
export function parsePayload(raw: unknown): Payload | { error: string } {
  if (!isObj(raw)) return { error: "not an object" };
  const v = raw.v === undefined ? PAYLOAD_VERSION : raw.v;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) return { error: "bad version" };
  if (v > PAYLOAD_VERSION) return { error: `unsupported version ${v}` };
  const keys = ["description", "candidate", "sending"].filter((k) => k in raw);
  if (keys.length !== 1) return { error: "needs exactly one of description, candidate, sending" };
  if ("description" in raw) {
    const d = raw.description;
    if (!isObj(d)) return { error: "description is not an object" };
    if (d.type !== "offer" && d.type !== "answer") return { error: "description type must be offer or answer" };
    if (typeof d.sdp !== "string" || d.sdp.length === 0 || d.sdp.length > MAX_SDP) return { error: "bad sdp" };
    return { v, description: { type: d.type, sdp: d.sdp } };
  }
  if ("candidate" in raw) {
    const c = raw.candidate;
    if (c === null) return { v, candidate: null };
    if (!isObj(c)) return { error: "candidate is not an object" };
    if (typeof c.candidate !== "string" || c.candidate.length > MAX_CANDIDATE) return { error: "bad candidate" };
    if (!optStr(c.sdpMid) || !optStr(c.usernameFragment)) return { error: "bad candidate fields" };
    const idx = c.sdpMLineIndex;
    if (!(idx === undefined || idx === null || (typeof idx === "number" && Number.isInteger(idx) && idx >= 0 && idx < 1024)))
      return { error: "bad sdpMLineIndex" };
    const init: RTCIceCandidateInit = { candidate: c.candidate };
    if (typeof c.sdpMid === "string") init.sdpMid = c.sdpMid;
    if (typeof idx === "number") init.sdpMLineIndex = idx;
    if (typeof c.usernameFragment === "string") init.usernameFragment = c.usernameFragment;
    return { v, candidate: init };
  }
  const s = raw.sending;
  if (!isObj(s) || typeof s.audio !== "boolean" || typeof s.video !== "boolean") return { error: "bad sending" };
  if (s.screen !== undefined && typeof s.screen !== "boolean") return { error: "bad sending" };
  return { v, sending: { audio: s.audio, video: s.video, ...(s.screen === true ? { screen: true } : {}) } };
}
