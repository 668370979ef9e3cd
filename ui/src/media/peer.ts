// One RTCPeerConnection to one other user in the call, negotiated with the "perfect
// negotiation" pattern (MDN): both sides may offer at any time (adding a track, an ICE
// restart), and a collision is settled by politeness instead of by who called whom. The
// polite side rolls its own offer back; the impolite side ignores the other's offer.
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
  /** Both sides compute it from the two user IDs, so exactly one of them is polite. */
  polite: boolean;
  timing: MediaTiming;
  send(payload: Payload): void;
  onChange(): void;
  onFailed(problem: MediaProblem): void;
  log(message: string, detail?: unknown): void;
};

/** The lower user ID is the polite side: deterministic, and both sides agree without talking. */
export function isPolite(ownUserId: string, otherUserId: string): boolean {
  return ownUserId < otherUserId;
}

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
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  /** Incoming payloads run one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
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
    this.remoteStream = new deps.env.MediaStream();
    const pc = new Ctor(deps.config);
    this.pc = pc;
    pc.onnegotiationneeded = () => void this.negotiate();
    pc.onicecandidate = (ev) => this.deps.send(candidatePayload(ev.candidate));
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
    if (this.connectArmed || this.closed) return;
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
    this.armConnectTimer();
    this.localStream = local;
    for (const track of local?.getTracks() ?? []) {
      const kind = track.kind as TrackKind;
      if (!this.senders.has(kind)) this.senders.set(kind, this.pc.addTrack(track, local as MediaStream));
    }
    for (const kind of kinds) {
      if (this.senders.has(kind)) continue;
      const receiving = this.pc.getTransceivers().some((t) => t.receiver.track?.kind === kind);
      if (!receiving) this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
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
    if (!this.closed) this.deps.send(sendingPayload(s));
  }

  // ---- negotiation -------------------------------------------------------------------

  private async negotiate(): Promise<void> {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const d = this.pc.localDescription;
      if (d && !this.closed) this.deps.send(descriptionPayload(d));
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
        await pc.setLocalDescription();
        const answer = pc.localDescription;
        if (answer && !this.closed) this.deps.send(descriptionPayload(answer));
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
    const before = this.health;
    if (s === "connected" && ice !== "disconnected" && ice !== "failed") {
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

  private restartIce(): void {
    try {
      this.restarts++;
      this.pc.restartIce();
    } catch (e) {
      this.deps.log("restartIce failed", e);
    }
  }

  private clearTimers(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.lostTimer !== null) clearTimeout(this.lostTimer);
    if (this.restartTimer !== null) clearInterval(this.restartTimer);
    this.connectTimer = this.lostTimer = this.restartTimer = null;
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
