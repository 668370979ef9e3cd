// The call's keyboard shortcuts and in-call actions through the App: each binding runs its
// action (a media method or a host command), only where its button is offered, and the
// devices selects and popover reach the media module.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { SETTINGS, fixtures, groupCall, mediaView, peerView, snapshot } from "../src/fixtures";
import { isMac, shortcutActions, shortcutText, withShortcut } from "../src/incall-keys";
import type { DeviceKind, MediaModule, MediaView } from "../src/media/controller";
import type { MediaStats } from "../src/media/stats";
import type { Snapshot } from "../src/types";
import { FakeStream } from "./fake-webrtc";
import { FakeSounds, flush, NOW, stubMediaElements } from "./helpers";

beforeAll(stubMediaElements);

/** A media module that records what the App asked of it. */
class RecordingMedia implements MediaModule {
  playBlocked = false;
  readonly log: string[] = [];
  constructor(public current: MediaView) {}
  get flowing(): boolean {
    return true;
  }
  sync(): void {}
  onSignal(): void {}
  accept(callId: string): void {
    this.log.push(`accept ${callId}`);
  }
  acceptFailed(): void {}
  toggleMute(): void {
    this.log.push("mute");
  }
  async toggleCamera(): Promise<void> {
    this.log.push("camera");
  }
  async toggleScreenShare(): Promise<void> {
    this.log.push("share");
  }
  async chooseDevice(kind: DeviceKind, deviceId: string | null): Promise<void> {
    this.log.push(`choose ${kind} ${String(deviceId)}`);
  }
  view(): MediaView {
    return this.current;
  }
  async stats(): Promise<MediaStats> {
    throw new Error("not in these tests");
  }
  dispose(): void {}
}

const silent = () => new FakeStream([]) as unknown as MediaStream;

let root: HTMLElement;
let t: FakeTransport;
let app: App;
let media: RecordingMedia;

async function start(snap: Snapshot, view: Partial<MediaView> = {}, kind: "main" | "popup" = "main"): Promise<void> {
  t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: snap }), history: () => [] });
  media = new RecordingMedia(mediaView({ local: silent(), peers: [peerView("bob", silent())], ...view }));
  app = new App({ api: createApi(t), root, kind, sounds: new FakeSounds(), now: () => NOW, createMedia: () => media });
  await app.start();
  await flush();
}

/** Presses a key on the focused element (or the body); returns whether the page took it. */
function press(key: string, mods: { ctrl?: boolean; shift?: boolean; meta?: boolean; alt?: boolean; repeat?: boolean } = {}, target: Element = document.activeElement ?? document.body): boolean {
  const ev = new KeyboardEvent("keydown", { key, ctrlKey: mods.ctrl, shiftKey: mods.shift, metaKey: mods.meta, altKey: mods.alt, repeat: mods.repeat, bubbles: true, cancelable: true });
  target.dispatchEvent(ev);
  return ev.defaultPrevented;
}

const hostCommands = () => t.commands().filter((c) => !["app_state", "history", "set_window_title"].includes(c));

beforeEach(() => {
  root = document.createElement("div");
  document.body.replaceChildren(root);
});

afterEach(() => app?.dispose());

describe("in-call shortcuts", () => {
  it("Ctrl+D mutes, Ctrl+E turns the camera, Ctrl+Shift+E shares the screen", async () => {
    await start(fixtures.calling(NOW), { cameraOn: true });
    expect(press("d", { ctrl: true })).toBe(true);
    expect(press("e", { ctrl: true })).toBe(true);
    expect(press("E", { ctrl: true, shift: true })).toBe(true);
    await flush();
    expect(media.log).toEqual(["mute", "camera", "share"]);
  });

  it("Ctrl+W puts the main window away on any page, the call going on; the popup keeps its own keys", async () => {
    await start(fixtures.calling(NOW));
    expect(press("w", { ctrl: true })).toBe(true);
    await flush();
    expect(hostCommands()).toEqual(["hide_window"]);
    app.dispose();
    await start(snapshot());
    expect(press("w", { ctrl: true })).toBe(true);
    await flush();
    expect(hostCommands()).toEqual(["hide_window"]);
    app.dispose();
    await start(fixtures.incoming(NOW), {}, "popup");
    expect(press("w", { ctrl: true })).toBe(false);
    await flush();
    expect(hostCommands()).toEqual([]);
  });

  it("Ctrl+Shift+H hangs up a 1:1 call", async () => {
    await start(fixtures.calling(NOW));
    expect(press("H", { ctrl: true, shift: true })).toBe(true);
    await flush();
    expect(hostCommands()).toEqual(["hang_up"]);
  });

  it("Ctrl+Shift+H leaves a group call", async () => {
    await start(groupCall(NOW, 3));
    expect(press("H", { ctrl: true, shift: true })).toBe(true);
    await flush();
    expect(hostCommands()).toEqual(["leave"]);
  });

  it("work from the invite box too (they all hold Ctrl); plain typing there is left alone", async () => {
    await start(fixtures.calling(NOW));
    const input = root.querySelector<HTMLInputElement>("#invite-ids")!;
    input.focus();
    expect(press("d", {}, input)).toBe(false);
    expect(press("d", { ctrl: true }, input)).toBe(true);
    expect(media.log).toEqual(["mute"]);
  });

  it("nothing the page doesn't offer: the camera in a voice call, sharing without the engine's support", async () => {
    await start(fixtures.callingVoice(NOW), { canShare: false });
    expect(press("e", { ctrl: true })).toBe(false);
    expect(press("E", { ctrl: true, shift: true })).toBe(false);
    await flush();
    expect(media.log).toEqual([]);
  });

  it("not on other pages, not with Alt or Cmd on Linux/Windows, not on a held key", async () => {
    await start(snapshot());
    expect(press("d", { ctrl: true })).toBe(false);
    app.dispose();
    await start(fixtures.calling(NOW));
    expect(press("d", { ctrl: true, alt: true })).toBe(false);
    expect(press("d", { meta: true })).toBe(false);
    expect(press("d", { ctrl: true, repeat: true })).toBe(false);
    expect(media.log).toEqual([]);
  });

  it("a layout without Latin letters: the key's place counts", () => {
    const ev = new KeyboardEvent("keydown", { key: "в", code: "KeyD", ctrlKey: true });
    expect(shortcutActions(ev, "calling", false)).toEqual(["mute"]);
  });

  it("macOS takes Cmd, not Ctrl", () => {
    const cmd = new KeyboardEvent("keydown", { key: "d", metaKey: true });
    const ctrl = new KeyboardEvent("keydown", { key: "d", ctrlKey: true });
    expect(shortcutActions(cmd, "calling", true)).toEqual(["mute"]);
    expect(shortcutActions(ctrl, "calling", true)).toEqual([]);
    expect(shortcutText("share-screen", true)).toBe("⇧⌘E");
    expect(isMac({ platform: "MacIntel" })).toBe(true);
    expect(isMac({ userAgentData: { platform: "macOS" } })).toBe(true);
    expect(isMac({ platform: "Linux x86_64" })).toBe(false);
  });

  it("each button's title names its shortcut", async () => {
    await start(fixtures.calling(NOW), { cameraOn: true });
    const title = (action: string) => root.querySelector(`[data-action="${action}"]`)?.getAttribute("title");
    expect(title("mute")).toBe("Mute your microphone (Ctrl+D)");
    expect(title("camera")).toBe("Turn your camera off (Ctrl+E)");
    expect(title("share-screen")).toBe("Share your screen (Ctrl+Shift+E)");
    expect(title("hang-up")).toBe("Hang up (Ctrl+Shift+H)");
    expect(withShortcut("Leave the call", "leave", false)).toBe("Leave the call (Ctrl+Shift+H)");
  });
});

describe("incoming-call shortcuts", () => {
  it("Ctrl+Shift+A accepts in the popup", async () => {
    await start(fixtures.incoming(NOW), {}, "popup");
    expect(root.querySelector('[data-action="accept"]')?.getAttribute("title")).toBe("Accept (Ctrl+Shift+A)");
    expect(press("A", { ctrl: true, shift: true })).toBe(true);
    await flush();
    expect(hostCommands()).toEqual(["accept"]);
  });

  it("Ctrl+Shift+D declines on the main window's incoming page", async () => {
    await start(fixtures.incoming(NOW));
    expect(root.querySelector('[data-action="decline"]')?.getAttribute("title")).toBe("Decline (Ctrl+Shift+D)");
    expect(press("D", { ctrl: true, shift: true })).toBe(true);
    await flush();
    expect(hostCommands()).toEqual(["decline"]);
  });

  it("nothing while the answer is on its way (both buttons locked)", async () => {
    await start(fixtures.incomingAccepting(NOW), {}, "popup");
    expect(press("A", { ctrl: true, shift: true })).toBe(false);
    expect(press("D", { ctrl: true, shift: true })).toBe(false);
    await flush();
    expect(hostCommands()).toEqual([]);
  });
});

describe("in-call actions", () => {
  it("the share button and the sharing note's Stop call toggleScreenShare", async () => {
    await start(fixtures.calling(NOW), { sharing: true });
    const buttons = root.querySelectorAll<HTMLButtonElement>('[data-action="share-screen"]');
    expect(buttons).toHaveLength(2);
    for (const b of Array.from(buttons)) b.click();
    await flush();
    expect(media.log).toEqual(["share", "share"]);
  });

  it("Devices opens the popover (focus on its first select); a choice calls chooseDevice; Esc closes it", async () => {
    const devices = { ...mediaView().devices, microphone: [{ deviceId: "mic-2", label: "USB Headset" }] };
    await start(fixtures.calling(NOW), { devices });
    root.querySelector<HTMLButtonElement>('[data-action="devices"]')!.click();
    await flush();
    const mic = root.querySelector<HTMLSelectElement>('#devices-pop select[data-device="microphone"]')!;
    expect(document.activeElement).toBe(mic);
    mic.value = "mic-2";
    mic.dispatchEvent(new Event("input", { bubbles: true }));
    mic.dispatchEvent(new Event("change", { bubbles: true }));
    const camera = root.querySelector<HTMLSelectElement>('#devices-pop select[data-device="camera"]')!;
    camera.value = "";
    camera.dispatchEvent(new Event("change", { bubbles: true }));
    expect(media.log).toEqual(["choose microphone mic-2", "choose camera null"]);
    expect(press("Escape", {}, mic)).toBe(true);
    await flush();
    expect(root.querySelector("#devices-pop")).toBeNull();
    expect(document.activeElement).toBe(root.querySelector('[data-action="devices"]'));
  });

  it("the settings page's selects reach the media module too", async () => {
    await start(snapshot(), { devices: { ...mediaView().devices, speaker: [{ deviceId: "spk-1", label: "Speakers" }] } });
    await app.act("edit-settings");
    const speaker = root.querySelector<HTMLSelectElement>('.devices-card select[data-device="speaker"]')!;
    speaker.value = "spk-1";
    speaker.dispatchEvent(new Event("change", { bubbles: true }));
    expect(media.log).toEqual(["choose speaker spk-1"]);
  });

  it("a device that can't be switched to says so", async () => {
    await start(snapshot(), { devices: { ...mediaView().devices, camera: [{ deviceId: "cam-1", label: "Cam" }] } });
    media.chooseDevice = () => Promise.reject(new Error("Could not start video source"));
    await app.act("edit-settings");
    const camera = root.querySelector<HTMLSelectElement>('.devices-card select[data-device="camera"]')!;
    camera.value = "cam-1";
    camera.dispatchEvent(new Event("change", { bubbles: true }));
    await flush();
    expect(root.querySelector(".toast-bad")?.textContent).toContain("Couldn't switch the camera: Could not start video source");
  });
});
