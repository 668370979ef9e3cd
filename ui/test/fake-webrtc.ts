// Fakes of the WebRTC surface the media module uses, faithful where the module's logic
// depends on it: signaling states and implicit rollback (perfect negotiation), mids and
// addTrack transceiver reuse, negotiationneeded only when stable, ICE candidates that
// fail without a remote description, connection states the tests drive.
import type { MediaEnv } from "../src/media/env";

let ids = 0;

export class FakeTrack extends EventTarget {
  readonly id = `track-${++ids}`;
  enabled = true;
  muted = false;
  readyState: MediaStreamTrackState = "live";
  constructor(
    readonly kind: "audio" | "video",
    readonly label = `fake ${kind}`,
    readonly deviceId = "default",
  ) {
    super();
  }
  getSettings(): MediaTrackSettings {
    return { deviceId: this.deviceId };
  }
  stop(): void {
    this.readyState = "ended";
  }
}

export class FakeStream {
  readonly id = `stream-${++ids}`;
  private tracks: FakeTrack[];
  constructor(tracks: FakeTrack[] = []) {
    this.tracks = [...tracks];
  }
  getTracks(): FakeTrack[] {
    return [...this.tracks];
  }
  getAudioTracks(): FakeTrack[] {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks(): FakeTrack[] {
    return this.tracks.filter((t) => t.kind === "video");
  }
  addTrack(t: FakeTrack): void {
    if (!this.tracks.includes(t)) this.tracks.push(t);
  }
  removeTrack(t: FakeTrack): void {
    this.tracks = this.tracks.filter((x) => x !== t);
  }
}

export class FakeSender {
  replaced: (FakeTrack | null)[] = [];
  constructor(public track: FakeTrack | null) {}
  async replaceTrack(t: FakeTrack | null): Promise<void> {
    this.replaced.push(t);
    this.track = t;
  }
}

export class FakeTransceiver {
  mid: string | null = null;
  readonly sender: FakeSender;
  readonly receiver: { track: FakeTrack };
  fired = false;
  constructor(
    readonly kind: "audio" | "video",
    public direction: RTCRtpTransceiverDirection,
    readonly fromAddTrack: boolean,
    track: FakeTrack | null,
  ) {
    this.sender = new FakeSender(track);
    this.receiver = { track: new FakeTrack(kind, `remote ${kind}`) };
  }
  /** What the SDP says: the direction, whether or not a track is on the sender yet. */
  get sending(): boolean {
    return this.direction === "sendrecv" || this.direction === "sendonly";
  }
}

type Sdp = { media: { mid: string; kind: "audio" | "video"; send: boolean }[] };
type Desc = { type: RTCSdpType; sdp: string };

const tick = () => Promise.resolve();

function domError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

export class FakePC {
  static all: FakePC[] = [];
  /** Connections created while set stay "new" forever (a refused TURN server). */
  static blockConnect = false;

  signalingState: RTCSignalingState = "stable";
  connectionState: RTCPeerConnectionState = "new";
  iceConnectionState: RTCIceConnectionState = "new";
  localDescription: Desc | null = null;
  remoteDescription: Desc | null = null;
  readonly transceivers: FakeTransceiver[] = [];
  readonly candidates: (RTCIceCandidateInit | undefined)[] = [];
  readonly offersMade: number[] = [];
  restarts = 0;
  rollbacks = 0;
  readonly blocked: boolean;
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((ev: { candidate: unknown }) => void) | null = null;
  onicecandidateerror: ((ev: unknown) => void) | null = null;
  ontrack: ((ev: { track: FakeTrack; streams: FakeStream[] }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  private gen = 0;
  private offeredGen = -1;
  private dirty = false;
  private nnQueued = false;
  private mids = 0;

  constructor(readonly config: RTCConfiguration = {}) {
    this.blocked = FakePC.blockConnect;
    FakePC.all.push(this);
  }

  get closed(): boolean {
    return this.signalingState === "closed";
  }

  addTrack(track: FakeTrack, _stream: FakeStream): FakeSender {
    const reuse = this.transceivers.find((t) => t.kind === track.kind && t.sender.track === null && !t.fromAddTrack && t.direction === "recvonly" && t.mid !== null);
    let t = reuse;
    if (t) {
      t.sender.track = track;
      t.direction = "sendrecv";
    } else {
      t = new FakeTransceiver(track.kind, "sendrecv", true, track);
      this.transceivers.push(t);
    }
    this.markDirty();
    return t.sender;
  }

  addTransceiver(kind: "audio" | "video", init: { direction: RTCRtpTransceiverDirection }): FakeTransceiver {
    const t = new FakeTransceiver(kind, init.direction, false, null);
    this.transceivers.push(t);
    this.markDirty();
    return t;
  }

  getTransceivers(): FakeTransceiver[] {
    return [...this.transceivers];
  }

  getSenders(): FakeSender[] {
    return this.transceivers.map((t) => t.sender);
  }

  private markDirty(): void {
    this.gen++;
    this.dirty = true;
    this.queueNegotiation();
  }

  private queueNegotiation(): void {
    if (this.nnQueued || this.closed || this.signalingState !== "stable" || !this.dirty) return;
    this.nnQueued = true;
    void tick().then(() => {
      this.nnQueued = false;
      if (this.dirty && this.signalingState === "stable" && !this.closed) this.onnegotiationneeded?.();
    });
  }

  private sdp(): string {
    const media = this.transceivers
      .filter((t) => t.mid !== null)
      .map((t) => ({ mid: t.mid as string, kind: t.kind, send: t.sending }));
    return JSON.stringify({ media } satisfies Sdp);
  }

  async setLocalDescription(desc?: Desc | { type: "rollback" }): Promise<void> {
    await tick();
    if (this.closed) throw domError("InvalidStateError", "closed");
    if (desc?.type === "rollback") {
      this.rollback();
      return;
    }
    if (this.signalingState === "stable" || this.signalingState === "have-local-offer") {
      for (const t of this.transceivers) if (t.mid === null) t.mid = String(this.mids++);
      this.offeredGen = this.gen;
      this.localDescription = { type: "offer", sdp: this.sdp() };
      this.signalingState = "have-local-offer";
      this.offersMade.push(this.gen);
    } else if (this.signalingState === "have-remote-offer") {
      this.localDescription = { type: "answer", sdp: this.sdp() };
      this.signalingState = "stable";
      this.dirty = this.transceivers.some((t) => t.mid === null);
      this.afterStable();
    } else throw domError("InvalidStateError", `SLD in ${this.signalingState}`);
    this.emitCandidates();
  }

  private rollback(): void {
    this.rollbacks++;
    this.signalingState = "stable";
    this.localDescription = this.remoteDescription && this.localDescription?.type === "answer" ? this.localDescription : null;
  }

  async setRemoteDescription(desc: Desc): Promise<void> {
    await tick();
    if (this.closed) throw domError("InvalidStateError", "closed");
    const sdp = JSON.parse(desc.sdp) as Sdp;
    if (desc.type === "offer") {
      if (this.signalingState === "have-local-offer") this.rollback(); // implicit rollback
      if (this.signalingState !== "stable") throw domError("InvalidStateError", `offer in ${this.signalingState}`);
      this.remoteDescription = desc;
      this.signalingState = "have-remote-offer";
      for (const m of sdp.media) {
        let t = this.transceivers.find((x) => x.mid === m.mid);
        if (!t) t = this.transceivers.find((x) => x.mid === null && x.kind === m.kind && x.fromAddTrack);
        if (!t) {
          t = new FakeTransceiver(m.kind, "recvonly", false, null);
          this.transceivers.push(t);
        }
        t.mid = m.mid;
        this.mids = Math.max(this.mids, Number(m.mid) + 1);
        if (m.send) this.fire(t);
      }
    } else if (desc.type === "answer") {
      if (this.signalingState !== "have-local-offer") throw domError("InvalidStateError", `answer in ${this.signalingState}`);
      this.remoteDescription = desc;
      this.signalingState = "stable";
      for (const m of sdp.media) {
        const t = this.transceivers.find((x) => x.mid === m.mid);
        if (t && m.send) this.fire(t);
      }
      this.dirty = this.gen !== this.offeredGen || this.transceivers.some((t) => t.mid === null);
      this.afterStable();
    }
  }

  private fire(t: FakeTransceiver): void {
    if (t.fired) return;
    t.fired = true;
    this.ontrack?.({ track: t.receiver.track, streams: [] });
  }

  private afterStable(): void {
    this.queueNegotiation();
    if (this.localDescription && this.remoteDescription && !this.blocked && this.connectionState === "new")
      setTimeout(() => {
        if (!this.closed && this.connectionState === "new") {
          this.setState("connecting");
          this.setState("connected");
        }
      }, 0);
  }

  private emitCandidates(): void {
    setTimeout(() => {
      if (this.closed) return;
      this.onicecandidate?.({ candidate: { candidate: "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "f" } });
      this.onicecandidate?.({ candidate: null });
    }, 0);
  }

  async addIceCandidate(c?: RTCIceCandidateInit): Promise<void> {
    await tick();
    if (!this.remoteDescription) throw domError("InvalidStateError", "no remote description");
    this.candidates.push(c);
  }

  restartIce(): void {
    this.restarts++;
    this.markDirty();
  }

  /** What the network does: "disconnected", "failed", "connected" again. */
  setState(s: RTCPeerConnectionState): void {
    this.connectionState = s;
    this.iceConnectionState = s === "connecting" ? "checking" : s === "closed" ? "closed" : (s as RTCIceConnectionState);
    this.oniceconnectionstatechange?.();
    this.onconnectionstatechange?.();
  }

  close(): void {
    this.signalingState = "closed";
    this.connectionState = "closed";
    this.iceConnectionState = "closed";
    for (const t of this.transceivers) t.receiver.track.stop();
  }

  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    const m = new Map<string, Record<string, unknown>>();
    const add = (r: Record<string, unknown>) => m.set(r.id as string, r);
    if (this.connectionState !== "connected") return m;
    add({ id: "T1", type: "transport", selectedCandidatePairId: "CP1" });
    add({ id: "CP1", type: "candidate-pair", localCandidateId: "L1", remoteCandidateId: "R1", state: "succeeded", nominated: true });
    add({ id: "L1", type: "local-candidate", candidateType: "host" });
    add({ id: "R1", type: "remote-candidate", candidateType: "relay" });
    add({ id: "IA", type: "inbound-rtp", kind: "audio", packetsReceived: 120, audioLevel: 0.2 });
    add({ id: "OA", type: "outbound-rtp", kind: "audio", packetsSent: 118 });
    return m;
  }
}

export type Devices = { audio: boolean; video: boolean; deny?: boolean; failVideo?: string };

/** A device the fake system has plugged in. */
export type FakeDevice = { kind: MediaDeviceKind; deviceId: string; label: string };

/** getUserMedia over pretend devices; records every request and every track it made. */
export class FakeDevices {
  readonly requests: MediaStreamConstraints[] = [];
  readonly made: FakeTrack[] = [];
  /** While set, requests wait for release(). */
  hold: Promise<void> | null = null;
  /** What enumerateDevices lists; plug and unplug by editing it and calling changed(). */
  plugged: FakeDevice[] = [];
  private listeners: (() => void)[] = [];
  readonly screens: FakeTrack[] = [];
  refuseScreen = false;
  constructor(public devices: Devices = { audio: true, video: true }) {}

  enumerateDevices = async (): Promise<MediaDeviceInfo[]> => this.plugged.map((d) => ({ ...d, groupId: "g", toJSON: () => d }) as MediaDeviceInfo);

  onDeviceChange = (cb: () => void): (() => void) => {
    this.listeners.push(cb);
    return () => (this.listeners = this.listeners.filter((l) => l !== cb));
  };

  changed(): void {
    for (const l of this.listeners) l();
  }

  getDisplayMedia = async (): Promise<MediaStream> => {
    if (this.refuseScreen) throw domError("NotAllowedError", "Permission denied by user");
    const t = new FakeTrack("video", "screen:0:0", "screen:0:0");
    this.screens.push(t);
    return new FakeStream([t]) as unknown as MediaStream;
  };

  /** The device a constraint asks for: its exact deviceId, or the first plugged one of the kind. */
  private pick(c: boolean | MediaTrackConstraints | undefined, kind: MediaDeviceKind): FakeDevice | undefined {
    const exact = typeof c === "object" && c.deviceId && typeof c.deviceId === "object" && "exact" in c.deviceId ? String(c.deviceId.exact) : null;
    if (exact !== null) {
      const d = this.plugged.find((x) => x.kind === kind && x.deviceId === exact);
      if (!d) throw domError("OverconstrainedError", "no such device");
      return d;
    }
    return undefined;
  }

  getUserMedia = async (c: MediaStreamConstraints): Promise<MediaStream> => {
    this.requests.push(c);
    if (this.hold) await this.hold;
    const d = this.devices;
    if (d.deny) throw domError("NotAllowedError", "Permission denied");
    if (c.video && d.failVideo) throw domError(d.failVideo, "Could not start video source");
    if ((c.audio && !d.audio) || (c.video && !d.video)) throw domError("NotFoundError", "Requested device not found");
    const tracks: FakeTrack[] = [];
    const mic = this.pick(c.audio, "audioinput");
    const cam = this.pick(c.video, "videoinput");
    if (c.audio) tracks.push(new FakeTrack("audio", mic?.label ?? "Fake microphone", mic?.deviceId));
    if (c.video) tracks.push(new FakeTrack("video", cam?.label ?? "Fake camera", cam?.deviceId));
    this.made.push(...tracks);
    return new FakeStream(tracks) as unknown as MediaStream;
  };
}

export function fakeEnv(devices = new FakeDevices(), withRtc = true): MediaEnv {
  return {
    RTCPeerConnection: withRtc ? (FakePC as unknown as MediaEnv["RTCPeerConnection"]) : undefined,
    MediaStream: FakeStream as unknown as MediaEnv["MediaStream"],
    getUserMedia: devices.getUserMedia,
    getDisplayMedia: devices.getDisplayMedia,
    enumerateDevices: devices.enumerateDevices,
    onDeviceChange: devices.onDeviceChange,
    canChooseSpeaker: true,
  };
}

export function fakePc(pc: RTCPeerConnection): FakePC {
  return pc as unknown as FakePC;
}
