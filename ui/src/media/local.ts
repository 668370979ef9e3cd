// This side's own tracks in a call: the microphone and camera, mute, camera on and off,
// another device chosen mid-call, and the screen shared in the camera's place. Each
// change reaches every peer connection by `replaceTrack`, so nothing is renegotiated
// except a video sender a voice call never had (its first shared screen).
import { capture, captureOne, type CaptureFailure, type DeviceNote } from "./capture";
import type { DeviceList } from "./devices";
import type { MediaEnv } from "./env";
import type { SendingState } from "./payload";
import type { Peer, TrackKind } from "./peer";

export type LocalDeps = {
  env: MediaEnv;
  devices: DeviceList;
  /** The call's live peer connections, to hand each new track to. */
  peers: () => Iterable<Peer>;
  onChange: () => void;
  /** What is sent changed without the user asking here (the browser's own "Stop sharing"). */
  onSendingChanged: () => void;
  log: (message: string, detail?: unknown) => void;
};

const isTrack = (x: MediaStreamTrack | CaptureFailure): x is MediaStreamTrack => "stop" in x;

export class LocalMedia {
  stream: MediaStream | null = null;
  /** Every track captured in the current (or last) call, to prove they all ended. */
  captured: MediaStreamTrack[] = [];
  notes: DeviceNote[] = [];
  micOn = true;
  cameraWanted = true;
  cameraBusy = false;
  /** The shared screen, sent in the camera's place while it lasts. */
  screen: MediaStreamTrack | null = null;
  /** The screen as your own preview shows it (one stream object, so the page keeps its element). */
  screenPreview: MediaStream | null = null;
  /** Bumped by every new call and every end: what an older capture brings back is stopped. */
  private gen = 0;

  constructor(private readonly deps: LocalDeps) {}

  /**
   * A new call's capture. `camera` false: a video call whose camera stays off (the call
   * already has as many cameras as a mesh carries). Resolves false if the call ended first.
   */
  async start(camera: boolean): Promise<boolean> {
    const gen = ++this.gen;
    this.micOn = true;
    this.cameraWanted = camera;
    this.notes = [];
    this.captured = [];
    this.screen = null;
    this.screenPreview = null;
    const d = this.deps.devices;
    const c = await capture(this.deps.env, camera, { audio: d.constraint("microphone"), video: d.constraint("camera") });
    const tracks = c.stream?.getTracks() ?? [];
    if (gen !== this.gen) {
      for (const t of tracks) t.stop();
      return false;
    }
    this.stream = c.stream;
    this.captured = tracks.slice();
    this.notes = c.notes;
    for (const t of this.stream?.getAudioTracks() ?? []) t.enabled = this.micOn;
    void d.refresh();
    return true;
  }

  /** Hang-up, call end: every track stops at once, camera light off. */
  stop(): void {
    this.gen++;
    for (const t of this.captured) t.stop();
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.screen = null;
    this.screenPreview = null;
    this.notes = [];
    this.cameraBusy = false;
  }

  private live(kind: TrackKind): boolean {
    return (this.stream?.getTracks() ?? []).some((t) => t.kind === kind && t.readyState === "live");
  }

  get cameraOn(): boolean {
    return this.cameraWanted && this.live("video");
  }

  sending(): SendingState {
    return { audio: this.micOn && this.live("audio"), video: this.screen !== null || this.cameraOn, screen: this.screen !== null };
  }

  /** What the video senders carry: the shared screen over the camera. */
  videoTrack(): MediaStreamTrack | null {
    return this.screen ?? this.stream?.getVideoTracks().find((t) => t.readyState === "live") ?? null;
  }

  /**
   * Mute is `track.enabled = false`: the sender then sends silence, so nothing the mic
   * hears leaves the machine, unmuting is instant (no new capture, no renegotiation) and
   * RTP keeps flowing, so the other side's connection watch sees no gap.
   */
  toggleMute(): void {
    this.micOn = !this.micOn;
    for (const t of this.stream?.getAudioTracks() ?? []) t.enabled = this.micOn;
  }

  private async send(kind: TrackKind, track: MediaStreamTrack | null): Promise<void> {
    await Promise.all(Array.from(this.deps.peers(), (p) => p.replaceTrack(kind, track).catch((e: unknown) => this.deps.log("replaceTrack", e))));
  }

  /** Camera off stops the track (the light goes off); on captures a fresh one. */
  async cameraOff(): Promise<void> {
    this.cameraWanted = false;
    const cams = this.stream?.getVideoTracks() ?? [];
    for (const t of cams) t.stop();
    this.replaceLocal((this.stream?.getTracks() ?? []).filter((t) => !cams.includes(t)));
    if (!this.screen) await this.send("video", null);
  }

  async cameraOnAgain(): Promise<void> {
    const gen = this.gen;
    this.cameraBusy = true;
    this.deps.onChange();
    const got = await captureOne(this.deps.env, "video", this.deps.devices.constraint("camera"));
    this.cameraBusy = false;
    if (gen !== this.gen) {
      if (isTrack(got)) got.stop();
      return;
    }
    if (!isTrack(got)) {
      this.notes = [...this.notes.filter((n) => n.kind !== "cameraFailed"), { kind: "cameraFailed", reason: got }];
      return;
    }
    this.notes = this.notes.filter((n) => n.kind !== "cameraFailed" && n.kind !== "noCamera");
    this.cameraWanted = true;
    this.replaceLocal([...(this.stream?.getAudioTracks() ?? []), got]);
    this.captured.push(got);
    if (!this.screen) await this.send("video", got);
  }

  /**
   * Another device for a kind, mid-call: the new track goes out before the old one
   * stops, so the other side hears no gap. A failure keeps the old one and says so.
   */
  async switchDevice(kind: TrackKind): Promise<void> {
    const old = (this.stream?.getTracks() ?? []).filter((t) => t.kind === kind);
    if (kind === "video" && !this.cameraWanted) return;
    if (kind === "audio" && old.length === 0 && !this.stream) return;
    const gen = this.gen;
    const want = this.deps.devices.constraint(kind === "audio" ? "microphone" : "camera");
    const got = await captureOne(this.deps.env, kind, want);
    if (gen !== this.gen) {
      if (isTrack(got)) got.stop();
      return;
    }
    if (!isTrack(got)) {
      this.deps.log(`couldn't switch the ${kind === "audio" ? "microphone" : "camera"}: ${got.message}`);
      if (kind === "video") this.notes = [...this.notes.filter((n) => n.kind !== "cameraFailed"), { kind: "cameraFailed", reason: got }];
      return;
    }
    if (kind === "audio") got.enabled = this.micOn;
    this.captured.push(got);
    this.replaceLocal([...(this.stream?.getTracks() ?? []).filter((t) => !old.includes(t)), got]);
    if (kind === "audio" || !this.screen) await this.send(kind, got);
    for (const t of old) t.stop();
  }

  /** The track of a kind in use now, if the device it came from is not the one wanted any more. */
  stale(kind: TrackKind): boolean {
    const t = (this.stream?.getTracks() ?? []).find((x) => x.kind === kind);
    if (!t) return false;
    if (t.readyState === "ended") return true;
    const want = this.deps.devices.inUse(kind === "audio" ? "microphone" : "camera");
    const has = typeof t.getSettings === "function" ? t.getSettings().deviceId : undefined;
    return want !== null && has !== undefined && has !== want;
  }

  /**
   * The screen goes out on the video senders, the camera (if on) stays in the preview
   * and comes back when sharing stops, whether by the button or by the browser's own
   * "Stop sharing".
   */
  async shareScreen(): Promise<"shared" | "refused" | "unavailable"> {
    const get = this.deps.env.getDisplayMedia;
    if (!get) return "unavailable";
    const gen = this.gen;
    let stream: MediaStream;
    try {
      stream = await get({ video: true, audio: false });
    } catch (e) {
      this.deps.log("screen sharing was refused", e);
      return "refused";
    }
    const track = stream.getVideoTracks()[0];
    if (!track || gen !== this.gen) {
      for (const t of stream.getTracks()) t.stop();
      return "refused";
    }
    this.screen = track;
    this.screenPreview = new this.deps.env.MediaStream([track]);
    this.captured.push(track);
    track.addEventListener("ended", () => {
      if (this.screen === track) void this.stopSharing().then(() => this.deps.onSendingChanged());
    });
    await this.send("video", track);
    return "shared";
  }

  async stopSharing(): Promise<void> {
    const track = this.screen;
    if (!track) return;
    this.screen = null;
    this.screenPreview = null;
    track.stop();
    await this.send("video", this.cameraOn ? this.videoTrack() : null);
  }

  /**
   * A new stream object rather than add/removeTrack on the old one: the preview's
   * srcObject() then sees a change and re-binds, which every webview handles, where a
   * track added to a playing stream is not always picked up.
   */
  private replaceLocal(tracks: MediaStreamTrack[]): void {
    this.stream = new this.deps.env.MediaStream(tracks);
  }
}
