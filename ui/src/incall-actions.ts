// The in-call controls the App hands over rather than growing its own switch: screen
// sharing, the Devices popover, and a device chosen in either devices select (settings
// page or popover). They only drive the media module and one view-local flag.
import type { DeviceKind, MediaModule } from "./media/controller";
import type { Model } from "./view";

const KINDS: readonly string[] = ["microphone", "camera", "speaker"] satisfies DeviceKind[];

/**
 * Runs one of these actions; false when `action` is none of them. The popover takes the
 * focus when it opens and gives it back to its button when it closes, so the keyboard
 * never lands on the page's top.
 */
export async function inCallAction(action: string, media: MediaModule | null, model: Model, view: HTMLElement, render: () => void): Promise<boolean> {
  switch (action) {
    case "share-screen":
      await media?.toggleScreenShare();
      render();
      return true;
    case "devices":
    case "close-devices": {
      const open = action === "devices" && !model.devicesOpen;
      model.devicesOpen = open;
      render();
      view.querySelector<HTMLElement>(open ? "#devices-pop select:not(:disabled)" : '[data-action="devices"]')?.focus();
      return true;
    }
    default:
      return false;
  }
}

/**
 * A devices select changed: tells the media module (the empty value is the system
 * default). Only "change" counts: selects fire "input" too, and one choice is one call.
 * Returns whether the event was a devices select's, so the caller looks no further.
 */
export function onDeviceChange(ev: Event, media: MediaModule | null, fail: (message: string) => void): boolean {
  const el = ev.target as HTMLSelectElement | null;
  const kind = el?.dataset?.device;
  if (!el || !kind || !KINDS.includes(kind)) return false;
  if (ev.type === "change" && media)
    media.chooseDevice(kind as DeviceKind, el.value || null).catch((e: unknown) => fail(`Couldn't switch the ${kind}: ${errorText(e)}`));
  return true;
}

function errorText(e: unknown): string {
  if (e instanceof Error && e.message) return e.message;
  if (typeof e === "string" && e) return e;
  return "the system refused.";
}
