// Getting the microphone (and camera) with the fallbacks a call needs: a video call
// without a camera carries on as voice, a call without a microphone carries on
// receive-only. What was lost becomes a note the calling page shows.
import type { MediaEnv } from "./env";

/** Why the user's side sends less than the call type asks for. */
export type DeviceNote =
  | { kind: "denied"; video: boolean; reason: CaptureFailure }
  | { kind: "noCamera"; reason: CaptureFailure }
  | { kind: "noMicrophone"; reason: CaptureFailure }
  | { kind: "cameraFailed"; reason: CaptureFailure };

/** A getUserMedia rejection, sorted by what the user can do about it. */
export type CaptureFailure = { kind: "denied" | "notFound" | "unavailable"; message: string };

export type Captured = { stream: MediaStream | null; notes: DeviceNote[] };

export function classify(e: unknown): CaptureFailure {
  const name = e && typeof e === "object" && "name" in e ? String((e as { name: unknown }).name) : "";
  const message = e && typeof e === "object" && "message" in e ? String((e as { message: unknown }).message) : String(e);
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
    return { kind: "denied", message };
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError")
    return { kind: "notFound", message };
  return { kind: "unavailable", message };
}

async function tryGet(env: MediaEnv, c: MediaStreamConstraints): Promise<MediaStream | CaptureFailure> {
  if (!env.getUserMedia) return { kind: "unavailable", message: "this window has no access to media devices" };
  try {
    return await env.getUserMedia(c);
  } catch (e) {
    return classify(e);
  }
}

const failed = (x: MediaStream | CaptureFailure): x is CaptureFailure =>
  typeof (x as CaptureFailure).kind === "string" && typeof (x as CaptureFailure).message === "string";

/** Which device of each kind to capture (see DeviceList.constraint): any by default. */
export type Wanted = { audio: MediaTrackConstraints | true; video: MediaTrackConstraints | true };
const ANY: Wanted = { audio: true, video: true };

/**
 * One prompt in the common case. A denied permission is not asked again (the second
 * prompt would only annoy, and Chromium answers it from the first anyway).
 */
export async function capture(env: MediaEnv, video: boolean, want: Wanted = ANY): Promise<Captured> {
  const first = await tryGet(env, video ? { audio: want.audio, video: want.video } : { audio: want.audio });
  if (!failed(first)) return { stream: first, notes: [] };
  if (first.kind === "denied") return { stream: null, notes: [{ kind: "denied", video, reason: first }] };
  if (!video) return { stream: null, notes: [{ kind: "noMicrophone", reason: first }] };
  // Video call: which device is missing? Microphone first, as a voice call is still a call.
  const audio = await tryGet(env, { audio: want.audio });
  if (!failed(audio)) return { stream: audio, notes: [{ kind: "noCamera", reason: first }] };
  const cam = await tryGet(env, { video: want.video });
  if (!failed(cam)) return { stream: cam, notes: [{ kind: "noMicrophone", reason: audio }] };
  return { stream: null, notes: [{ kind: "noMicrophone", reason: audio }, { kind: "noCamera", reason: cam }] };
}

/** One fresh track of a kind (camera back on, another microphone chosen), or why not. */
export async function captureOne(env: MediaEnv, kind: "audio" | "video", want: MediaTrackConstraints | true = true): Promise<MediaStreamTrack | CaptureFailure> {
  const s = await tryGet(env, { [kind]: want });
  if (failed(s)) return s;
  const t = kind === "audio" ? s.getAudioTracks()[0] : s.getVideoTracks()[0];
  return t ?? { kind: "notFound", message: `no ${kind} track` };
}

/** The sentence the calling page shows for a note. */
export function noteText(n: DeviceNote): string {
  const r = n.reason;
  switch (n.kind) {
    case "denied":
      return n.video
        ? "Beckon isn't allowed to use your microphone and camera, so they can't hear or see you. Allow access in your system or browser settings; you can still hear and see them."
        : "Beckon isn't allowed to use your microphone, so they can't hear you. Allow access in your system or browser settings; you can still hear them.";
    case "noCamera":
      if (r.kind === "denied") return "Camera access is blocked. Allow it in your system or browser settings to send video.";
      if (r.kind === "notFound") return "No camera found: this call continues as voice.";
      return `Couldn't start the camera (${r.message}): this call continues as voice.`;
    case "noMicrophone":
      if (r.kind === "denied")
        return "Microphone access is blocked, so they can't hear you. Allow it in your system or browser settings; you can still hear them.";
      if (r.kind === "notFound") return "No microphone found: you can hear them, but they can't hear you.";
      return `Couldn't start the microphone (${r.message}): you can hear them, but they can't hear you.`;
    case "cameraFailed":
      if (r.kind === "denied") return "Camera access is blocked. Allow it in your system or browser settings.";
      return `Couldn't turn the camera back on (${r.message}).`;
  }
}
