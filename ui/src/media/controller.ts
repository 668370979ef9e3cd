// Owns the call's media: local capture, one peer connection per accepted peer, and the
// failure reports. Driven by the host's snapshot (the Rust manager owns call state), so
// it only ever reacts: `sync` after every update, `onSignal` for relayed payloads. Pages
// render `view()` and never touch a peer connection.
import type { Api } from "../api";
import type { CallType, Snapshot } from "../types";
import { capture, captureCamera, type DeviceNote } from "./capture";
import { browserEnv, type MediaEnv } from "./env";
import type { IceConfig, MediaProblem, Signal } from "./host";
import { parsePayload, type Payload, type SendingState } from "./payload";
import { isPolite, Peer, type PeerHealth, type TrackKind } from "./peer";
import { collectStats, type MediaStats } from "./stats";
import { MEDIA_TIMING, type MediaTiming } from "./timing";


/** Log lines kept for stats(). */
const RECENT_LOG = 50;
export type MediaApi = Pick<Api, "iceConfig" | "signal" | "mediaFailed">;

export type MediaOptions = {
  api: MediaApi;
  env?: MediaEnv;
  timing?: Partial<MediaTiming>;
  /** Called after any change the page shows. */
  onChange?: () => void;
  log?: (message: string, detail?: unknown) => void;
  /** Where stats() looks for the remote <video> elements. */
  doc?: Document;
};

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

/** Signals that arrive before their peer connection exists wait here, this many at most. */
const MAX_PENDING = 200;

type Session = { gen: number; video: boolean; settled: boolean };

export class MediaController implements MediaModule {
  readonly supported: boolean;
  private readonly api: MediaApi;
  private readonly env: MediaEnv;
  private readonly timing: MediaTiming;
  private readonly onChange: () => void;
  private readonly log: (message: string, detail?: unknown) => void;
  private readonly doc: Document | undefined;
  private snapshot: Snapshot | null = null;
  private session: Session | null = null;
  private gen = 0;
  private local: MediaStream | null = null;
  /** Every track captured in the current (or last) call, to prove they all ended. */
  private captured: MediaStreamTrack[] = [];
  private notes: DeviceNote[] = [];
  private micOn = true;
  private cameraWanted = true;
  private cameraBusy = false;
  private readonly peers = new Map<string, Peer>();
  private readonly creating = new Set<string>();
  private pending: Signal[] = [];
  private ice: Promise<IceConfig | null> | null = null;
  private iceValue: IceConfig | null = null;
  /** The call this side already reported as failed: no media for it any more. */
  private failedCallId: string | null = null;
  /** The incoming call the user just clicked Accept on (before the host says "working"). */
  private accepting: string | null = null;
  private closedPeers = 0;
  private callIdOfPeers: string | null = null;
  playBlocked = false;
  /** The last lines logged, for diagnostics (stats): a page's console is out of reach. */
  private readonly recentLog: string[] = [];
  /** The last ordered signal on its way to the host, and candidates after it (see sendInOrder). */
  private barrier: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();
  private captureMarks: { started: number | null; settled: number | null } = { started: null, settled: null };

  constructor(opts: MediaOptions) {
    this.api = opts.api;
    this.env = opts.env ?? browserEnv();
    this.timing = { ...MEDIA_TIMING, ...opts.timing };
    this.onChange = opts.onChange ?? (() => undefined);
    const log = opts.log ?? ((m, d) => console.warn(`[media] ${m}`, d ?? ""));
    this.log = (m, d) => {
      this.recentLog.push(`${new Date().toISOString()} ${m}${d instanceof Error ? `: ${d.name}: ${d.message}` : ""}`);
      if (this.recentLog.length > RECENT_LOG) this.recentLog.shift();
      log(m, d);
    };
    this.doc = opts.doc ?? (typeof document !== "undefined" ? document : undefined);
    this.supported = this.env.RTCPeerConnection !== undefined;
  }

  // ---- driven by the host ------------------------------------------------------------

  /**
   * Capture runs while placing a call (ready when it is answered), from the moment the
   * user accepts one, and during the call; never while an incoming call merely rings.
   */
  private wantsCapture(s: Snapshot | null): boolean {
    const c = s?.call;
    if (!s || !c || !this.supported) return false;
    if (c.callId !== null && c.callId === this.failedCallId) return false;
    if (s.phase === "outgoing" || s.phase === "inCall") return true;
    return s.phase === "incoming" && (c.working || (c.callId !== null && c.callId === this.accepting));
  }

  sync(s: Snapshot | null): void {
    this.snapshot = s;
    if (s?.phase !== "incoming") this.accepting = null;
    if (!this.wantsCapture(s)) {
      if (this.session) this.end();
      return;
    }
    const call = s!.call!;
    if (!this.session) this.begin(call.callType);
    this.syncPeers(s!);
  }

  /** The user clicked Accept: start the camera/microphone now, not when the host answers. */
  accept(callId: string): void {
    this.accepting = callId;
    this.sync(this.snapshot);
  }

  /** The accept command failed: back to merely ringing, capture off. */
  acceptFailed(): void {
    this.accepting = null;
    this.sync(this.snapshot);
  }

  onSignal(sig: Signal): void {
    const call = this.snapshot?.call;
    if (!this.session || !call || sig.callId !== call.callId) {
      this.log(`dropped a signal for call ${String(sig.callId)}: not the current call`);
      return;
    }
    if (!call.peers.some((p) => p.userId === sig.fromUserId)) {
      this.log(`dropped a signal from ${String(sig.fromUserId)}: not in this call`);
      return;
    }
    const p = parsePayload(sig.payload);
    if ("error" in p) {
      this.log(`dropped a malformed signal from ${sig.fromUserId}: ${p.error}`, sig.payload);
      return;
    }
    const peer = this.peers.get(sig.fromUserId);
    if (peer) void peer.receive(p);
    else if (this.pending.length < MAX_PENDING) this.pending.push({ ...sig, payload: p });
    else this.log("dropped a signal: too many waiting for their peer connection");
  }

  // ---- the session: capture + peers --------------------------------------------------

  private begin(callType: CallType): void {
    const gen = ++this.gen;
    const video = callType === "video";
    this.session = { gen, video, settled: false };
    this.micOn = true;
    this.cameraWanted = video;
    this.notes = [];
    this.captured = [];
    this.playBlocked = false;
    this.ice = null;
    void this.iceConfig();
    this.captureMarks = { started: Date.now(), settled: null };
    void capture(this.env, video).then((c) => {
      const tracks = c.stream?.getTracks() ?? [];
      if (this.session?.gen !== gen) {
        for (const t of tracks) t.stop();
        return;
      }
      this.session.settled = true;
      this.captureMarks.settled = Date.now();
      this.local = c.stream;
      this.captured = tracks.slice();
      this.notes = c.notes;
      for (const t of this.local?.getAudioTracks() ?? []) t.enabled = this.micOn;
      for (const peer of this.peers.values()) this.attach(peer);
      this.onChange();
    });
    this.onChange();
  }

  /** Hang-up, call end, leaving the call: everything stops at once, camera light off. */
  private end(): void {
    this.session = null;
    this.gen++;
    for (const peer of this.peers.values()) {
      peer.close();
      this.closedPeers++;
    }
    this.peers.clear();
    this.creating.clear();
    this.pending = [];
    for (const t of this.captured) t.stop();
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this.notes = [];
    this.cameraBusy = false;
    this.callIdOfPeers = null;
    this.onChange();
  }

  /** The TURN credentials expire: a fresh config when the cached one is about to. */
  private iceConfig(): Promise<IceConfig | null> {
    const v = this.iceValue;
    const fresh = v && (v.expiresAt === undefined || v.expiresAt - Date.now() > 60_000);
    if (this.ice && (fresh || !v)) return this.ice;
    this.ice = this.api.iceConfig().then(
      (c) => (this.iceValue = c),
      (e: unknown) => {
        this.log("couldn't get the ICE config; trying without TURN", e);
        return null;
      },
    );
    return this.ice;
  }

  /**
   * Who this side has a peer connection with: everyone accepted, once in the call; and
   * while this user's own call rings, everyone still ringing, so the offer is made before
   * they answer (held until they do).
   */
  private peerTargets(s: Snapshot): { accepted: string[]; ringing: string[] } {
    const call = s.call;
    if (!call || call.callId === null) return { accepted: [], ringing: [] };
    const ids = (states: string[]) => call.peers.filter((p) => states.includes(p.state)).map((p) => p.userId);
    const calling = call.direction === "outgoing" && call.callerId === s.userId;
    return {
      accepted: s.phase === "inCall" ? ids(["accepted"]) : [],
      ringing: calling && (s.phase === "outgoing" || s.phase === "inCall") ? ids(["inviting", "received"]) : [],
    };
  }

  private syncPeers(s: Snapshot): void {
    const call = s.call!;
    const { accepted, ringing } = this.peerTargets(s);
    const wanted = [...accepted, ...ringing];
    if (this.callIdOfPeers !== null && this.callIdOfPeers !== call.callId) {
      for (const peer of this.peers.values()) this.closePeer(peer);
      this.pending = [];
    }
    this.callIdOfPeers = call.callId;
    for (const peer of Array.from(this.peers.values())) if (!wanted.includes(peer.userId)) this.closePeer(peer);
    for (const id of accepted) this.peers.get(id)?.release();
    this.pending = this.pending.filter((p) => p.callId === call.callId);
    for (const id of wanted) if (!this.peers.has(id) && !this.creating.has(id)) void this.createPeer(call.callId!, id);
  }

  /**
   * Signals reach the host in an order the other side can apply: the host runs commands
   * concurrently, and an ICE candidate that overtakes its offer is refused over there (no
   * remote description yet) and lost. So a description (or the end of candidates, or a
   * sending state) goes once everything before it was taken; candidates go as soon as the
   * description before them was, side by side.
   */
  private sendInOrder(callId: string, userId: string, payload: Payload): void {
    const send = () =>
      this.api.signal(callId, userId, payload).catch((e: unknown) => this.log(`couldn't send a signal to ${userId}`, e));
    if ("candidate" in payload && payload.candidate !== null) {
      const sent = this.barrier.then(send);
      this.inFlight.add(sent);
      void sent.then(() => this.inFlight.delete(sent));
    } else {
      this.barrier = Promise.all([this.barrier, ...this.inFlight]).then(send);
    }
  }

  private closePeer(peer: Peer): void {
    peer.close();
    this.closedPeers++;
    this.peers.delete(peer.userId);
    this.onChange();
  }

  private stillWanted(callId: string, userId: string): boolean {
    const s = this.snapshot;
    if (!s || s.call?.callId !== callId || !this.wantsCapture(s)) return false;
    const { accepted, ringing } = this.peerTargets(s);
    return accepted.includes(userId) || ringing.includes(userId);
  }

  private async createPeer(callId: string, userId: string): Promise<void> {
    const session = this.session;
    if (!session || !this.snapshot) return;
    this.creating.add(userId);
    const ice = await this.iceConfig();
    this.creating.delete(userId);
    if (this.session !== session || this.peers.has(userId) || !this.stillWanted(callId, userId)) return;
    const me = this.snapshot.userId;
    const config: RTCConfiguration = ice ? { iceServers: ice.iceServers, iceTransportPolicy: ice.iceTransportPolicy } : {};
    const peer = new Peer({
      env: this.env,
      config,
      userId,
      polite: isPolite(me, userId, this.snapshot.call?.callerId ?? ""),
      held: !this.peerTargets(this.snapshot).accepted.includes(userId),
      sendKinds: session.video ? ["audio", "video"] : ["audio"],
      timing: this.timing,
      send: (payload: Payload) => this.sendInOrder(callId, userId, payload),
      onChange: () => this.onChange(),
      onFailed: (problem) => this.fail(callId, problem),
      log: (m, d) => this.log(`${userId}: ${m}`, d),
    });
    this.peers.set(userId, peer);
    if (session.settled) this.attach(peer);
    const mine = this.pending.filter((p) => p.fromUserId === userId && p.callId === callId);
    this.pending = this.pending.filter((p) => !mine.includes(p));
    for (const sig of mine) void peer.receive(sig.payload as Payload);
    this.onChange();
  }

  private attach(peer: Peer): void {
    const kinds: TrackKind[] = this.session?.video ? ["audio", "video"] : ["audio"];
    peer.attach(this.local, kinds);
    peer.announce(this.sending());
  }

  /**
   * One failed connection ends a 1:1 call for this user. (A group call would drop just
   * that peer; that waits for group media.)
   */
  private fail(callId: string, problem: MediaProblem): void {
    if (this.failedCallId === callId) return;
    this.failedCallId = callId;
    this.log(`media failed: ${problem}`);
    void this.api.mediaFailed(callId, problem).catch((e: unknown) => this.log("media_failed was refused", e));
    if (this.session) this.end();
  }

  // ---- the user's toggles ------------------------------------------------------------

  private sending(): SendingState {
    const live = (k: TrackKind) => (this.local?.getTracks() ?? []).some((t) => t.kind === k && t.readyState === "live");
    return { audio: this.micOn && live("audio"), video: this.cameraWanted && live("video") };
  }

  private announce(): void {
    const s = this.sending();
    for (const p of this.peers.values()) p.announce(s);
  }

  /**
   * Mute is `track.enabled = false`: the sender then sends silence, so nothing the mic
   * hears leaves the machine, unmuting is instant (no new capture, no renegotiation) and
   * RTP keeps flowing, so the other side's connection watch sees no gap.
   */
  toggleMute(): void {
    this.micOn = !this.micOn;
    for (const t of this.local?.getAudioTracks() ?? []) t.enabled = this.micOn;
    this.announce();
    this.onChange();
  }

  /**
   * Camera off stops the track (the camera light goes off) and sends nothing in its
   * place; camera on captures a new track and swaps it in with replaceTrack.
   */
  async toggleCamera(): Promise<void> {
    const session = this.session;
    if (!session?.settled || this.cameraBusy) return;
    if (this.cameraWanted && this.local?.getVideoTracks().length) {
      this.cameraWanted = false;
      for (const t of this.local.getVideoTracks()) t.stop();
      this.replaceLocal(this.local.getAudioTracks());
      await Promise.all(Array.from(this.peers.values(), (p) => p.replaceTrack("video", null).catch((e: unknown) => this.log("replaceTrack", e))));
      this.announce();
      this.onChange();
      return;
    }
    this.cameraBusy = true;
    this.onChange();
    const got = await captureCamera(this.env);
    this.cameraBusy = false;
    if (this.session !== session) {
      if ("stop" in got) got.stop();
      return;
    }
    if (!("stop" in got)) {
      this.notes = [...this.notes.filter((n) => n.kind !== "cameraFailed"), { kind: "cameraFailed", reason: got }];
      this.onChange();
      return;
    }
    this.notes = this.notes.filter((n) => n.kind !== "cameraFailed" && n.kind !== "noCamera");
    this.cameraWanted = true;
    this.replaceLocal([...(this.local?.getAudioTracks() ?? []), got]);
    this.captured.push(got);
    await Promise.all(Array.from(this.peers.values(), (p) => p.replaceTrack("video", got).catch((e: unknown) => this.log("replaceTrack", e))));
    this.announce();
    this.onChange();
  }

  /**
   * A new stream object rather than add/removeTrack on the old one: the preview's
   * srcObject() then sees a change and re-binds, which every webview handles, where a
   * track added to a playing stream is not always picked up.
   */
  private replaceLocal(tracks: MediaStreamTrack[]): void {
    this.local = new this.env.MediaStream(tracks);
  }

  async toggleScreenShare(): Promise<void> {}

  async chooseDevice(_kind: DeviceKind, _deviceId: string | null): Promise<void> {}

  // ---- for the pages and the tests ---------------------------------------------------

  /** Media reaches the user from at least one peer: ringback can stop. */
  get flowing(): boolean {
    return Array.from(this.peers.values()).some((p) => p.health === "connected");
  }

  view(): MediaView {
    const local = this.local;
    return {
      supported: this.supported,
      capturing: this.session !== null && !this.session.settled,
      local,
      hasMic: (local?.getAudioTracks().length ?? 0) > 0,
      micOn: this.micOn,
      cameraOn: this.cameraWanted && (local?.getVideoTracks().some((t) => t.readyState === "live") ?? false),
      cameraBusy: this.cameraBusy,
      notes: this.notes,
      peers: Array.from(this.peers.values(), (p) => ({
        userId: p.userId,
        health: p.health,
        stream: p.remoteStream,
        hasVideo:
          p.remoteSending?.video !== false && p.remoteStream.getVideoTracks().some((t) => t.readyState === "live" && !t.muted),
        remoteSending: p.remoteSending,
        level: 0,
        quality: null,
      })),
      playBlocked: this.playBlocked,
      localLevel: 0,
      speaking: null,
      videoHeldBack: false,
      sharing: false,
      canShare: false,
      devices: { microphone: [], camera: [], speaker: [], chosen: { microphone: null, camera: null, speaker: null }, canChooseSpeaker: false },
    };
  }

  stats(): Promise<MediaStats> {
    return collectStats({
      supported: this.supported,
      callId: this.snapshot?.call?.callId ?? null,
      peers: Array.from(this.peers.values()),
      local: this.local,
      captured: this.captured,
      closedPeers: this.closedPeers,
      notes: this.notes.map((n) => n.kind),
      capture: { ...this.captureMarks },
      recentLog: [...this.recentLog],
      doc: this.doc,
    });
  }

  dispose(): void {
    if (this.session) this.end();
  }
}
