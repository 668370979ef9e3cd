// Dev-only: media for the preview harness. A static media module that shows a fixed
// MediaView (its toggles flip) and canvas-painted "cameras".
import { mediaView } from "./fixtures";
import type { DeviceKind, MediaModule, MediaView } from "./media/controller";
import type { MediaStats } from "./media/stats";

export class StaticMedia implements MediaModule {
  playBlocked = false;
  constructor(
    private current: MediaView,
    private readonly onChange: () => void,
  ) {}
  get flowing(): boolean {
    return this.current.peers.some((p) => p.health === "connected");
  }
  sync(): void {}
  onSignal(): void {}
  accept(): void {}
  acceptFailed(): void {}
  toggleMute(): void {
    this.current = { ...this.current, micOn: !this.current.micOn };
    this.onChange();
  }
  async toggleCamera(): Promise<void> {
    this.current = { ...this.current, cameraOn: !this.current.cameraOn };
    this.onChange();
  }
  async toggleScreenShare(): Promise<void> {
    this.current = { ...this.current, sharing: !this.current.sharing };
    this.onChange();
  }
  async chooseDevice(kind: DeviceKind, deviceId: string | null): Promise<void> {
    const d = this.current.devices;
    this.current = { ...this.current, devices: { ...d, chosen: { ...d.chosen, [kind]: deviceId } } };
    this.onChange();
  }
  view(): MediaView {
    return { ...this.current, playBlocked: this.playBlocked || this.current.playBlocked };
  }
  async stats(): Promise<MediaStats> {
    return { supported: this.current.supported, callId: null, openPeers: 0, closedPeers: 0, localTracks: [], localTracksEnded: true, capturedTracks: 0, notes: [], capture: { started: null, settled: null }, recentLog: [], peers: [], failedPeers: [], speaking: null, localLevel: 0, sharing: false, devices: this.current.devices };
  }
  dispose(): void {}
}

/** A moving picture with a name on it, as a camera would send. */
export function paintedCamera(label: string, hue: number, w = 640, h = 480): MediaStream {
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext("2d");
  const draw = (t: number) => {
    if (!g) return;
    const grad = g.createLinearGradient(0, 0, w, h);
    grad.addColorStop(0, `hsl(${hue}, 45%, 32%)`);
    grad.addColorStop(1, `hsl(${hue + 40}, 50%, 18%)`);
    g.fillStyle = grad;
    g.fillRect(0, 0, w, h);
    // A head-and-shoulders silhouette that sways a little.
    const x = w / 2 + Math.sin(t / 900) * w * 0.03;
    g.fillStyle = `hsla(${hue}, 30%, 80%, 0.85)`;
    g.beginPath();
    g.arc(x, h * 0.42, h * 0.15, 0, Math.PI * 2);
    g.fill();
    g.beginPath();
    g.ellipse(x, h * 0.98, w * 0.26, h * 0.3, 0, Math.PI, 0);
    g.fill();
    g.fillStyle = "rgba(255,255,255,0.8)";
    g.font = `${Math.round(h / 20)}px system-ui, sans-serif`;
    g.fillText(label, 18, 36);
  };
  const loop = (t: number) => {
    draw(t);
    requestAnimationFrame(loop);
  };
  draw(0);
  requestAnimationFrame(loop);
  return canvas.captureStream(24);
}

export function staticMedia(view: Partial<MediaView>): (onChange: () => void) => MediaModule {
  return (onChange) => new StaticMedia(mediaView(view), onChange);
}
