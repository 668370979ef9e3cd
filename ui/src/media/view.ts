// What the pages see of the media module (`MediaModule.view()`) and what they may ask of
// it: the one contract between the calling pages and the code that owns the peer
// connections, so a page never touches a connection and the preview harness can stand in.
import type { Snapshot } from "../types";
import type { Signal } from "./host";
import type { DeviceNote } from "./capture";
import type { SendingState } from "./payload";
import type { PeerHealth } from "./peer";
import type { MediaStats } from "./stats";

/** How a connection is doing, from its `getStats` (see media/quality.ts). */
export type Quality = {
  /** The plain word the page shows. */
  level: "good" | "weak" | "poor";
  rttMs: number | null;
  /** Of the packets expected over the last few seconds, both directions' worst. */
  lossPct: number | null;
  /** What arrives from this peer, audio and video together. */
  inKbps: number | null;
};

export type PeerView = {
  userId: string;
  /** "failed": in a group call, this one connection gave up (the call goes on; retried). */
  health: PeerHealth | "failed";
  stream: MediaStream;
  /** A live, unmuted remote video track the other side says it sends. */
  hasVideo: boolean;
  remoteSending: SendingState | null;
  /** Their voice as it arrives, 0..1. */
  level: number;
  quality: Quality | null;
};

export type DeviceKind = "microphone" | "camera" | "speaker";
export type DeviceOption = { deviceId: string; label: string };

/** The devices the system has and the user's choice of each (null: the system default). */
export type Devices = {
  microphone: DeviceOption[];
  camera: DeviceOption[];
  speaker: DeviceOption[];
  chosen: Record<DeviceKind, string | null>;
  /** The engine can send sound to a chosen speaker (`setSinkId`). */
  canChooseSpeaker: boolean;
};

export type MediaView = {
  supported: boolean;
  /** Capture has been asked for and not answered (the permission prompt may be up). */
  capturing: boolean;
  local: MediaStream | null;
  hasMic: boolean;
  micOn: boolean;
  cameraOn: boolean;
  /** Turning the camera back on is under way. */
  cameraBusy: boolean;
  notes: DeviceNote[];
  peers: PeerView[];
  /** The page's elements could not start playing by themselves (autoplay policy). */
  playBlocked: boolean;
  /** Your own voice as the microphone hears it, 0..1 (0 when muted). */
  localLevel: number;
  /** Who is talking loudest now, if anyone is (this user's own ID for you). */
  speaking: string | null;
  /** The call already has as many cameras on as a mesh carries: yours stays off. */
  videoHeldBack: boolean;
  /** Your screen is being shared (it replaces your camera while it is). */
  sharing: boolean;
  /** The engine can share a screen (getDisplayMedia). */
  canShare: boolean;
  devices: Devices;
};

/** What the App drives; the preview harness swaps in a static one. */
export interface MediaModule {
  readonly flowing: boolean;
  playBlocked: boolean;
  sync(s: Snapshot | null): void;
  onSignal(sig: Signal): void;
  accept(callId: string): void;
  acceptFailed(): void;
  toggleMute(): void;
  toggleCamera(): Promise<void>;
  /** Share the screen, or stop sharing it. */
  toggleScreenShare(): Promise<void>;
  /** Use this device from now on, in this call and the next ones. */
  chooseDevice(kind: DeviceKind, deviceId: string | null): Promise<void>;
  view(): MediaView;
  stats(): Promise<MediaStats>;
  dispose(): void;
}

