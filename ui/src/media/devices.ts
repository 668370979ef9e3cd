// The microphones, cameras and speakers the system has, and which one the user chose.
// The choice is kept by device ID across calls and launches; a chosen device that is not
// plugged in falls back to the system default (a headset left at the office must not
// make the next call silent), and comes back into use when it is plugged in again.
import type { DeviceKind, DeviceOption, Devices } from "./view";
import type { MediaEnv } from "./env";

export const DEVICES_KEY = "beckon.devices";

type Store = Pick<Storage, "getItem" | "setItem">;

const KIND_OF: Record<string, DeviceKind> = { audioinput: "microphone", videoinput: "camera", audiooutput: "speaker" };

/** Chromium lists "default" and "communications" as devices of their own: the default option covers them. */
const PSEUDO = new Set(["", "default", "communications"]);

function fallbackLabel(kind: DeviceKind, n: number): string {
  return `${kind === "microphone" ? "Microphone" : kind === "camera" ? "Camera" : "Speaker"} ${n}`;
}

export function readChoice(store: Store | null): Devices["chosen"] {
  const none = { microphone: null, camera: null, speaker: null };
  try {
    const raw = JSON.parse(store?.getItem(DEVICES_KEY) ?? "null") as unknown;
    if (!raw || typeof raw !== "object") return none;
    const r = raw as Record<string, unknown>;
    const pick = (k: DeviceKind) => (typeof r[k] === "string" && (r[k] as string).length <= 512 ? (r[k] as string) : null);
    return { microphone: pick("microphone"), camera: pick("camera"), speaker: pick("speaker") };
  } catch {
    return none;
  }
}

export class DeviceList {
  private lists: Record<DeviceKind, DeviceOption[]> = { microphone: [], camera: [], speaker: [] };
  private chosen: Devices["chosen"];
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly env: MediaEnv,
    private readonly store: Store | null,
    /** After the lists changed (a device plugged in or out, labels after a permission). */
    private readonly onChange: () => void,
  ) {
    this.chosen = readChoice(store);
  }

  /** Starts following hot-plug; the lists fill on the first refresh. */
  watch(): void {
    if (this.unlisten || !this.env.onDeviceChange) return;
    this.unlisten = this.env.onDeviceChange(() => void this.refresh());
    void this.refresh();
  }

  dispose(): void {
    this.unlisten?.();
    this.unlisten = null;
  }

  async refresh(): Promise<void> {
    if (!this.env.enumerateDevices) return;
    let infos: MediaDeviceInfo[];
    try {
      infos = await this.env.enumerateDevices();
    } catch {
      return;
    }
    const next: Record<DeviceKind, DeviceOption[]> = { microphone: [], camera: [], speaker: [] };
    for (const d of infos) {
      const kind = KIND_OF[d.kind];
      if (!kind || PSEUDO.has(d.deviceId)) continue;
      next[kind].push({ deviceId: d.deviceId, label: d.label || fallbackLabel(kind, next[kind].length + 1) });
    }
    const same = (Object.keys(next) as DeviceKind[]).every(
      (k) => next[k].length === this.lists[k].length && next[k].every((d, i) => d.deviceId === this.lists[k][i]!.deviceId && d.label === this.lists[k][i]!.label),
    );
    this.lists = next;
    if (!same) this.onChange();
  }

  choose(kind: DeviceKind, deviceId: string | null): void {
    this.chosen = { ...this.chosen, [kind]: deviceId };
    try {
      this.store?.setItem(DEVICES_KEY, JSON.stringify(this.chosen));
    } catch {
      /* storage full or refused: the choice holds for this session */
    }
  }

  /** The chosen device if it is plugged in now, else null (the system default). */
  inUse(kind: DeviceKind): string | null {
    return pluggedIn(this.view(false), kind);
  }

  /** getUserMedia's constraint for a kind: the device in use, or any. */
  constraint(kind: "microphone" | "camera"): MediaTrackConstraints | true {
    const id = this.inUse(kind);
    return id === null ? true : { deviceId: { exact: id } };
  }

  view(canChooseSpeaker: boolean): Devices {
    return { ...this.lists, chosen: { ...this.chosen }, canChooseSpeaker };
  }
}

/** The chosen device of a kind if it is plugged in now, else null (the system default). */
export function pluggedIn(d: Devices, kind: DeviceKind): string | null {
  const id = d.chosen[kind];
  return id !== null && d[kind].some((x) => x.deviceId === id) ? id : null;
}

/** The speaker the sound goes to: the chosen one while it is plugged in, else "" (the default). */
export function speakerInUse(d: Devices): string {
  return pluggedIn(d, "speaker") ?? "";
}
