// Owns the call's media: local capture, one peer connection per accepted peer, and the
// failure reports. Driven by the host's snapshot (the Rust manager owns call state), so
// it only ever reacts: `sync` after every update, `onSignal` for relayed payloads. Pages
// render `view()` and never touch a peer connection.
import type { Api } from "../api";
import type { CallType, Snapshot } from "../types";
import { DeviceList } from "./devices";
import { browserEnv, type MediaEnv } from "./env";
import type { IceConfig, MediaProblem, Signal } from "./host";
import { LocalMedia } from "./local";
import { parsePayload, type Payload } from "./payload";
import { isPolite, Peer, type TrackKind } from "./peer";
import { PeerSamples, QUALITY_EVERY, receiverLevel, SAMPLE_EVERY_MS, senderLevel, SpeakerTracker, totals } from "./quality";
import { collectStats, type MediaStats } from "./stats";
import { MEDIA_TIMING, type MediaTiming } from "./timing";
import type { DeviceKind, MediaModule, MediaView, PeerView } from "./view";

/** Log lines kept for stats(). */
const RECENT_LOG = 50;
export type MediaApi = Pick<Api, "iceConfig" | "signal" | "mediaFailed">;

export type { DeviceKind, DeviceOption, Devices, MediaModule, MediaView, PeerView, Quality } from "./view";

export type MediaOptions = {
  api: MediaApi;
  env?: MediaEnv;
  timing?: Partial<MediaTiming>;
  /** Called after any change the page shows. */
  onChange?: () => void;
  log?: (message: string, detail?: unknown) => void;
  /** Where stats() looks for the remote <video> elements. */
  doc?: Document;
  /** Where the chosen devices are kept (default: localStorage). */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
};

/**
 * Cameras a mesh call carries: each sender uploads one stream per other member, so past
 * four the uploads and the decoders of a laptop give out before the network does.
 */
export const MAX_VIDEO_SENDERS = 4;

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
  private readonly local: LocalMedia;
  private readonly devices: DeviceList;
  private readonly peers = new Map<string, Peer>();
  /** A group call's members whose connection gave up and keeps trying (see fail()). */
  private readonly troubled = new Set<string>();
  private readonly samples = new Map<string, PeerSamples>();
  private readonly speaker = new SpeakerTracker();
  private localLevel = 0;
  private speaking: string | null = null;
  private sampler: ReturnType<typeof setInterval> | null = null;
  private samplesTaken = 0;
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
    this.devices = new DeviceList(this.env, opts.storage === undefined ? defaultStorage() : opts.storage, () => this.onDevices());
    this.local = new LocalMedia({
      env: this.env,
      devices: this.devices,
      peers: () => this.peers.values(),
      onChange: () => this.onChange(),
      onSendingChanged: () => {
        this.announce();
        this.onChange();
      },
      log: this.log,
    });
    if (this.supported) this.devices.watch();
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
    this.playBlocked = false;
    this.ice = null;
    void this.iceConfig();
    this.captureMarks = { started: Date.now(), settled: null };
    // A member joining a call that already carries its cameras starts with its own off.
    const camera = video && this.acceptedOthers() < MAX_VIDEO_SENDERS;
    void this.local.start(camera).then((current) => {
      if (!current || this.session?.gen !== gen) return;
      this.session.settled = true;
      this.captureMarks.settled = Date.now();
      for (const peer of this.peers.values()) this.attach(peer);
      this.onChange();
    });
    this.sampler = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
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
    this.troubled.clear();
    this.samples.clear();
    this.creating.clear();
    this.pending = [];
    this.local.stop();
    if (this.sampler !== null) clearInterval(this.sampler);
    this.sampler = null;
    this.localLevel = 0;
    this.speaking = null;
    this.callIdOfPeers = null;
    this.onChange();
  }

  private acceptedOthers(): number {
    return this.snapshot?.call?.peers.filter((p) => p.state === "accepted").length ?? 0;
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
    for (const id of Array.from(this.troubled)) if (!wanted.includes(id)) this.troubled.delete(id);
    for (const id of accepted) this.peers.get(id)?.release();
    this.pending = this.pending.filter((p) => p.callId === call.callId);
    for (const id of wanted) if (!this.peers.has(id) && !this.creating.has(id)) void this.createPeer(call.callId!, id);
    this.capVideo();
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
    this.samples.delete(peer.userId);
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
      onChange: () => {
        if (peer.health === "connected") this.troubled.delete(peer.userId);
        this.capVideo();
        this.onChange();
      },
      onFailed: (problem) => this.fail(callId, peer, problem),
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
    peer.attach(this.local.stream, kinds);
    if (this.local.screen) void peer.replaceTrack("video", this.local.screen).catch((e: unknown) => this.log("replaceTrack", e));
    peer.announce(this.local.sending());
  }

  /**
   * One failed connection ends a 1:1 call for this user: there is nobody else to talk to.
   * In a group call the others go on: that member's tile says so and the connection keeps
   * trying (ICE restarts) until it is back or the member leaves. It is the same
   * connection on both sides: a fresh one made by one side alone would meet the other
   * side's old one, and neither would ever connect.
   */
  private fail(callId: string, peer: Peer, problem: MediaProblem): void {
    if (this.snapshot?.call?.group && this.peers.get(peer.userId) === peer) {
      if (!this.troubled.has(peer.userId)) this.log(`connection to ${peer.userId} failed (${problem}); the call goes on, still trying`);
      this.troubled.add(peer.userId);
      peer.keepTrying();
      this.onChange();
      return;
    }
    if (this.failedCallId === callId) return;
    this.failedCallId = callId;
    this.log(`media failed: ${problem}`);
    void this.api.mediaFailed(callId, problem).catch((e: unknown) => this.log("media_failed was refused", e));
    if (this.session) this.end();
  }

  // ---- the user's toggles ------------------------------------------------------------

  private announce(): void {
    const s = this.local.sending();
    for (const p of this.peers.values()) p.announce(s);
  }

  toggleMute(): void {
    this.local.toggleMute();
    this.announce();
    this.onChange();
  }

  /** Cameras on in this call: the other members' (as they announce) and this side's. */
  private videoSenders(): string[] {
    const me = this.snapshot?.userId ?? "";
    const ids = Array.from(this.peers.values(), (p) => (p.remoteSending?.video ? p.userId : null)).filter((x): x is string => x !== null);
    if (this.local.sending().video) ids.push(me);
    return ids;
  }

  /** The call already carries its cameras (not counting this side's). */
  private videoFull(): boolean {
    const me = this.snapshot?.userId ?? "";
    return this.videoSenders().filter((id) => id !== me).length >= MAX_VIDEO_SENDERS;
  }

  /**
   * Members who turned their cameras on at the same moment can go past the cap; each side
   * then sees the same senders, and all but the first four (the caller, then by user ID)
   * turn theirs off, so every side lands on the same four without talking.
   */
  private capVideo(): void {
    const s = this.snapshot;
    if (!s?.call?.group || !this.local.cameraOn || this.local.screen) return;
    const callerId = s.call.callerId;
    const senders = this.videoSenders().sort((a, b) => (a === callerId ? -1 : b === callerId ? 1 : a < b ? -1 : a > b ? 1 : 0));
    if (senders.indexOf(s.userId) < MAX_VIDEO_SENDERS) return;
    this.log(`${senders.length} cameras on: this one goes off`);
    void this.local.cameraOff().then(() => {
      this.announce();
      this.onChange();
    });
  }

  /**
   * Camera off stops the track (the camera light goes off) and sends nothing in its
   * place; camera on captures a new track and swaps it in with replaceTrack, unless the
   * call already carries as many cameras as it can.
   */
  async toggleCamera(): Promise<void> {
    const session = this.session;
    if (!session?.settled || this.local.cameraBusy) return;
    if (this.local.cameraOn) await this.local.cameraOff();
    else if (this.videoFull()) return this.onChange();
    else await this.local.cameraOnAgain();
    if (this.session !== session) return;
    this.announce();
    this.onChange();
  }

  async toggleScreenShare(): Promise<void> {
    const session = this.session;
    if (!session?.settled) return;
    if (this.local.screen) await this.local.stopSharing();
    else await this.local.shareScreen();
    if (this.session !== session) return;
    this.announce();
    this.onChange();
  }

  async chooseDevice(kind: DeviceKind, deviceId: string | null): Promise<void> {
    this.devices.choose(kind, deviceId);
    if (kind !== "speaker" && this.session?.settled) await this.local.switchDevice(kind === "microphone" ? "audio" : "video");
    this.onChange();
  }

  /** A device plugged in or out: the one in use may have to change. */
  private onDevices(): void {
    if (this.session?.settled) {
      for (const kind of ["audio", "video"] as const) if (this.local.stale(kind)) void this.local.switchDevice(kind).then(() => this.onChange());
    }
    this.onChange();
  }

  /**
   * Levels and the speaker a few times a second, from the receivers' synchronization
   * sources and one sender's stats; each connection's quality from a full `getStats`
   * every few samples (see QUALITY_EVERY).
   */
  private async sample(): Promise<void> {
    const session = this.session;
    const peers = Array.from(this.peers.values()).filter((p) => p.health === "connected" || p.health === "reconnecting");
    const at = Date.now();
    const full = this.samplesTaken++ % QUALITY_EVERY === 0;
    const [reports, sent] = await Promise.all([
      full ? Promise.all(peers.map((p) => p.pc.getStats().catch(() => null))) : Promise.resolve([]),
      peers[0] ? senderLevel(peers[0].pc) : Promise.resolve(null),
    ]);
    if (this.session !== session) return;
    const levels = new Map<string, number>();
    let local = sent;
    peers.forEach((p, i) => {
      const samples = this.samples.get(p.userId) ?? new PeerSamples();
      this.samples.set(p.userId, samples);
      const r = reports[i];
      if (r) {
        const list: (Record<string, unknown> & { id: string; type: string })[] = [];
        r.forEach((v: Record<string, unknown> & { id: string; type: string }) => list.push(v));
        const t = totals(list, at);
        samples.add(t);
        if (sent === null) local = Math.max(local ?? 0, t.localLevel ?? 0);
      }
      const heard = receiverLevel(p.pc);
      if (heard !== null) samples.level = heard;
      levels.set(p.userId, samples.level);
    });
    this.localLevel = this.local.micOn ? (local ?? 0) : 0;
    const me = this.snapshot?.userId;
    if (me) levels.set(me, this.localLevel);
    this.speaking = this.speaker.update(levels, at);
    this.onChange();
  }

  // ---- for the pages and the tests ---------------------------------------------------

  /** Media reaches the user from at least one peer: ringback can stop. */
  get flowing(): boolean {
    return Array.from(this.peers.values()).some((p) => p.health === "connected");
  }

  private peerView(p: Peer, failed: boolean): PeerView {
    const samples = this.samples.get(p.userId);
    return {
      userId: p.userId,
      health: failed ? "failed" : p.health,
      stream: p.remoteStream,
      hasVideo: !failed && p.remoteSending?.video !== false && p.remoteStream.getVideoTracks().some((t) => t.readyState === "live" && !t.muted),
      remoteSending: p.remoteSending,
      level: samples?.level ?? 0,
      quality: samples?.quality ?? null,
    };
  }

  view(): MediaView {
    const l = this.local;
    const cameraOn = l.cameraOn;
    return {
      supported: this.supported,
      capturing: this.session !== null && !this.session.settled,
      // Your own preview shows what you send: the screen while it is shared.
      local: l.screenPreview ?? l.stream,
      hasMic: (l.stream?.getAudioTracks().length ?? 0) > 0,
      micOn: l.micOn,
      cameraOn,
      cameraBusy: l.cameraBusy,
      notes: l.notes,
      peers: Array.from(this.peers.values(), (p) => this.peerView(p, this.troubled.has(p.userId))),
      playBlocked: this.playBlocked,
      localLevel: this.localLevel,
      speaking: this.speaking,
      videoHeldBack: (this.session?.video ?? false) && !cameraOn && this.videoFull(),
      sharing: l.screen !== null,
      canShare: this.supported && this.env.getDisplayMedia !== undefined,
      devices: this.devices.view(this.env.canChooseSpeaker ?? false),
    };
  }

  stats(): Promise<MediaStats> {
    return collectStats({
      supported: this.supported,
      callId: this.snapshot?.call?.callId ?? null,
      peers: Array.from(this.peers.values()),
      local: this.local.stream,
      captured: this.local.captured,
      closedPeers: this.closedPeers,
      notes: this.local.notes.map((n) => n.kind),
      view: this.view(),
      capture: { ...this.captureMarks },
      recentLog: [...this.recentLog],
      doc: this.doc,
    });
  }

  dispose(): void {
    if (this.session) this.end();
    this.devices.dispose();
  }
}

function defaultStorage(): Pick<Storage, "getItem" | "setItem"> | null {
  try {
    return typeof localStorage !== "undefined" ? localStorage : null;
  } catch {
    return null;
  }
}
