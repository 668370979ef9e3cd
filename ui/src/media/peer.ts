// One RTCPeerConnection to one other user in the call, negotiated with the "perfect
// negotiation" pattern (MDN): both sides may offer at any time (adding a track, an ICE
// restart), and a collision is settled by politeness. The polite side rolls its own
// offer back; the impolite side ignores the other's offer.
//
// Set-up time is what a caller notices, so the usual path has no collision at all: the
// caller (impolite) makes its offer while the call still rings and holds it, with its
// candidates, until the other side accepts; the callee (polite) waits for that offer,
// answers it at once with send-and-receive transceivers, and puts its tracks on them when
// its microphone is ready, without another round of negotiation.
import type { MediaEnv } from "./env";
import type { MediaProblem } from "./host";
import { candidatePayload, descriptionPayload, sendingPayload, type Payload, type SendingState } from "./payload";
import type { MediaTiming } from "./timing";

/** What the calling page says about this peer. */
export type PeerHealth = "connecting" | "connected" | "reconnecting" | "closed";

export type TrackKind = "audio" | "video";

export type PeerDeps = {
  env: MediaEnv;
  config: RTCConfiguration;
  userId: string;
  /** Both sides compute it (`isPolite`), so exactly one of them is polite. */
  polite: boolean;
  /** Hold what this side sends until the other side accepts the call (see `release`). */
  held: boolean;
  /** What this side will send in this call, tracks or not yet. */
  sendKinds: TrackKind[];
  timing: MediaTiming;
  send(payload: Payload): void;
  onChange(): void;
  onFailed(problem: MediaProblem): void;
  log(message: string, detail?: unknown): void;
};

/**
 * The caller is never polite: its offer, made while the call rang, is the one that counts.
 * Between two people the caller invited, the lower user ID is polite. Deterministic, so
 * both sides agree without talking.
 */
export function isPolite(ownUserId: string, otherUserId: string, callerId: string): boolean {
  if (ownUserId === callerId) return false;
  if (otherUserId === callerId) return true;
  return ownUserId < otherUserId;
}

/** Payloads held while the call rings: an offer and a few candidates per m-line. */
const MAX_HELD = 64;

type Timer = ReturnType<typeof setTimeout>;

export class Peer {
  readonly pc: RTCPeerConnection;
  readonly userId: string;
  readonly polite: boolean;
  /** Every track the other side sends ends up here; the page's <audio>/<video> play it. */
  readonly remoteStream: MediaStream;
  health: PeerHealth = "connecting";
  everConnected = false;
  /** What the other side says it sends (null until it says). */
  remoteSending: SendingState | null = null;
  restarts = 0;
  /** When each step of setting up first happened (Unix ms), for diagnostics and the set-up bench. */
  readonly marks: Record<string, number> = {};
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  /** Incoming payloads run one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  private held: boolean;
  private readonly heldOut: Payload[] = [];
  /** Local tracks kept back while the polite side waits for the other side's offer. */
  private waiting: { local: MediaStream | null; kinds: TrackKind[] } | null = null;
  private offerWait: Timer | null = null;
  private waitedForOffer = false;
  private lastStates = "";
  private readonly senders = new Map<TrackKind, RTCRtpSender>();
  private localStream: MediaStream | null = null;
  private connectTimer: Timer | null = null;
  private connectArmed = false;
  private lostTimer: Timer | null = null;
  private restartTimer: ReturnType<typeof setInterval> | null = null;
  private readonly deps: PeerDeps;

  /** Read through a getter: TypeScript would otherwise narrow it across awaits. */
  get closed(): boolean {
    return this.health === "closed";
  }

  constructor(deps: PeerDeps) {
    const Ctor = deps.env.RTCPeerConnection;
    if (!Ctor) throw new Error("RTCPeerConnection is not available");
    this.deps = deps;
    this.userId = deps.userId;
    this.polite = deps.polite;
    this.held = deps.held;
    this.remoteStream = new deps.env.MediaStream();
    const pc = new Ctor(deps.config);
    this.pc = pc;
    this.mark("created");
    pc.onnegotiationneeded = () => void this.negotiate();
    pc.onicecandidate = (ev) => this.out(candidatePayload(ev.candidate));
    pc.onicecandidateerror = (ev) => {
      const e = ev as RTCPeerConnectionIceErrorEvent;
      // A 401 from TURN lands here and the connection then stays "new": the connect
      // timer turns that into couldNotConnect.
      this.deps.log(`ICE candidate error ${e.errorCode} ${e.errorText ?? ""} (${e.url ?? ""})`);
    };
    pc.ontrack = (ev) => this.onTrack(ev.track);
    pc.onconnectionstatechange = () => this.checkHealth();
    pc.oniceconnectionstatechange = () => this.checkHealth();
  }

  /**
   * The connect time runs from the first thing there is to connect: this side's tracks
   * (capture settled) or the other side's offer. A permission prompt left open on both
   * sides is not a network that refuses calls.
   */
  private armConnectTimer(): void {
    if (this.connectArmed || this.closed || this.held) return;
    this.connectArmed = true;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (!this.everConnected && !this.closed) this.deps.onFailed("couldNotConnect");
    }, this.deps.timing.connectTimeoutMs);
  }

  // ---- local tracks ------------------------------------------------------------------

  /**
   * Sends the local tracks, once capture has settled. A kind the call needs but this side
   * has no track for gets a recvonly transceiver, so this side still receives it even
   * when it ends up making the offer.
   */
  attach(local: MediaStream | null, kinds: TrackKind[]): void {
    if (this.closed) return;
    this.mark("attached");
    this.localStream = local;
    if (this.polite && !this.pc.remoteDescription && !this.waitedForOffer) {
      // The other side's offer is on its way: answering it beats a collision. If it does
      // not come, this side offers after all.
      this.waitedForOffer = true;
      this.waiting = { local, kinds };
      this.armConnectTimer();
      this.offerWait = setTimeout(() => this.applyWaiting(), this.deps.timing.offerWaitMs);
      return;
    }
    this.applyLocal(local, kinds);
  }

  private applyWaiting(): void {
    if (this.offerWait !== null) clearTimeout(this.offerWait);
    this.offerWait = null;
    const w = this.waiting;
    this.waiting = null;
    if (w && !this.closed) this.applyLocal(w.local, w.kinds);
  }

  private applyLocal(local: MediaStream | null, kinds: TrackKind[]): void {
    this.armConnectTimer();
    for (const track of local?.getTracks() ?? []) {
      const kind = track.kind as TrackKind;
      const sender = this.senders.get(kind);
      if (!sender) this.senders.set(kind, this.pc.addTrack(track, local as MediaStream));
      else if (!sender.track) sender.replaceTrack(track).catch((e: unknown) => this.deps.log("couldn't send a track", e));
    }
    for (const kind of kinds) {
      if (this.senders.has(kind)) continue;
      const receiving = this.pc.getTransceivers().some((t) => t.receiver.track?.kind === kind);
      if (!receiving) this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
  }

  /**
   * Before answering: every kind this side will send goes on the transceiver the offer
   * made for it, as send-and-receive, so the tracks can be put on later without another
   * offer.
   */
  private prepareSenders(): void {
    for (const kind of this.deps.sendKinds) {
      if (this.senders.has(kind)) continue;
      const t = this.pc.getTransceivers().find((x) => x.receiver.track?.kind === kind && !x.sender.track && x.currentDirection !== "stopped");
      if (!t) continue;
      t.direction = "sendrecv";
      this.senders.set(kind, t.sender);
    }
  }

  /** The other side accepted: what was held goes out, in order, and the connect time starts. */
  release(): void {
    if (!this.held || this.closed) return;
    this.held = false;
    this.mark("released");
    for (const p of this.heldOut.splice(0)) this.deps.send(p);
    if (this.localStream || this.pc.remoteDescription) this.armConnectTimer();
  }

  private out(p: Payload): void {
    if (!this.held) return this.deps.send(p);
    if (this.heldOut.length < MAX_HELD) this.heldOut.push(p);
    else this.deps.log("dropped a signal: too many held while the call rings");
  }

  /** Swaps what a sender sends without renegotiating; a kind never sent is added (renegotiates). */
  async replaceTrack(kind: TrackKind, track: MediaStreamTrack | null): Promise<void> {
    if (this.closed) return;
    const sender = this.senders.get(kind);
    if (sender) {
      await sender.replaceTrack(track);
      return;
    }
    if (track) this.senders.set(kind, this.pc.addTrack(track, this.localStream ?? new this.deps.env.MediaStream([track])));
  }

  announce(s: SendingState): void {
    if (!this.closed) this.out(sendingPayload(s));
  }

  private mark(step: string): void {
    this.marks[step] ??= Date.now();
  }

  // ---- negotiation -------------------------------------------------------------------

  private async negotiate(): Promise<void> {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const d = this.pc.localDescription;
      if (d && !this.closed) {
        this.mark(`sent-${d.type}`);
        this.out(descriptionPayload(d));
      }
    } catch (e) {
      this.deps.log("couldn't make an offer", e);
    } finally {
      this.makingOffer = false;
    }
  }

  /** A validated payload from the other side. */
  receive(p: Payload): Promise<void> {
    this.queue = this.queue.then(
      () => this.handle(p),
      () => this.handle(p),
    );
    return this.queue.catch((e: unknown) => this.deps.log("couldn't apply a signal", e));
  }

  private async handle(p: Payload): Promise<void> {
    if (this.closed) return;
    const pc = this.pc;
    if ("description" in p) {
      this.armConnectTimer();
      const d = p.description;
      this.mark(`got-${d.type}`);
      const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
      const collision = d.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingRemoteAnswer = d.type === "answer";
      try {
        // For the polite side in a collision this rolls its own offer back implicitly.
        await pc.setRemoteDescription(d);
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (d.type === "offer") {
        this.prepareSenders();
        await pc.setLocalDescription();
        const answer = pc.localDescription;
        if (answer && !this.closed) {
          this.mark(`sent-${answer.type}`);
          this.out(descriptionPayload(answer));
        }
        if (this.waiting) this.applyWaiting();
      }
    } else if ("candidate" in p) {
      try {
        await pc.addIceCandidate(p.candidate ?? undefined);
      } catch (e) {
        // Candidates for an offer this side ignored have nowhere to go; anything else is real.
        if (!this.ignoreOffer) throw e;
      }
    } else {
      this.remoteSending = p.sending;
      this.deps.onChange();
    }
  }

  private onTrack(track: MediaStreamTrack): void {
    if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
    // A remote track mutes when its sender stops (camera off, replaceTrack(null)).
    track.addEventListener("mute", () => this.deps.onChange());
    track.addEventListener("unmute", () => this.deps.onChange());
    track.addEventListener("ended", () => {
      this.remoteStream.removeTrack(track);
      this.deps.onChange();
    });
    this.deps.onChange();
  }

  // ---- health ------------------------------------------------------------------------

  /** connectionState where the webview has it, else the ICE state it is derived from. */
  private state(): string {
    const c = (this.pc as { connectionState?: string }).connectionState;
    if (typeof c === "string") return c;
    const ice = this.pc.iceConnectionState;
    return ice === "completed" ? "connected" : ice === "checking" ? "connecting" : ice;
  }

  private checkHealth(): void {
    if (this.closed) return;
    const s = this.state();
    const ice = this.pc.iceConnectionState;
    if (`${s}/${ice}` !== this.lastStates) {
      this.lastStates = `${s}/${ice}`;
      this.deps.log(`connection ${s}, ICE ${ice}`);
    }
    const before = this.health;
    if (s === "connected" && ice !== "disconnected" && ice !== "failed") {
      this.mark("connected");
      this.everConnected = true;
      this.health = "connected";
      this.clearTimers();
    } else if (s === "disconnected" || s === "failed" || ice === "disconnected" || ice === "failed") {
      if (this.everConnected) this.lose();
      else if (!this.polite) this.restartIce();
    }
    if (before !== this.health) this.deps.onChange();
  }

  private lose(): void {
    if (this.health === "reconnecting") return;
    this.health = "reconnecting";
    this.lostTimer = setTimeout(() => {
      this.lostTimer = null;
      if (this.health === "reconnecting") this.deps.onFailed("connectionLost");
    }, this.deps.timing.reconnectTimeoutMs);
    // The impolite side restarts ICE (the polite side answers its offers), and retries
    // while the connection stays down: a network change may take a few seconds.
    if (!this.polite) {
      this.restartIce();
      this.restartTimer = setInterval(() => {
        if (this.health === "reconnecting") this.restartIce();
      }, this.deps.timing.iceRestartEveryMs);
    }
  }

  /**
   * Past giving up, in a group call: no more failure reports; the impolite side goes on
   * restarting ICE until the connection is back (checkHealth then clears the timers).
   */
  keepTrying(): void {
    if (this.closed) return;
    this.clearTimers();
    this.connectArmed = true;
    if (this.health === "connected") return;
    this.health = "reconnecting";
    if (!this.polite) {
      this.restartIce();
      this.restartTimer = setInterval(() => {
        if (this.health !== "connected") this.restartIce();
      }, this.deps.timing.iceRestartEveryMs);
    }
  }

  private restartIce(): void {
    try {
      this.restarts++;
      this.pc.restartIce();
    } catch (e) {
      this.deps.log("restartIce failed", e);
    }
  }

  private clearTimers(): void {
    if (this.offerWait !== null) clearTimeout(this.offerWait);
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.lostTimer !== null) clearTimeout(this.lostTimer);
    if (this.restartTimer !== null) clearInterval(this.restartTimer);
    this.connectTimer = this.lostTimer = this.restartTimer = this.offerWait = null;
  }

  close(): void {
    if (this.closed) return;
    this.health = "closed";
    this.clearTimers();
    const pc = this.pc;
    pc.onnegotiationneeded = pc.onicecandidate = pc.onicecandidateerror = null;
    pc.ontrack = pc.onconnectionstatechange = pc.oniceconnectionstatechange = null;
    try {
      pc.close();
    } catch (e) {
      this.deps.log("close failed", e);
    }
  }
}
