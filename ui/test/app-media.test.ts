// The App and the media module together: routing of signal notices, capture on the
// accept click, the media actions, and what the page shows.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createApi, EVENT_CONTROL, EVENT_UPDATE } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { fixtures, SETTINGS, snapshot } from "../src/fixtures";
import { MediaController } from "../src/media/controller";
import type { HostUpdate } from "../src/media/host";
import { PLAY_BLOCKED_EVENT } from "../src/media/src-object";
import type { Snapshot } from "../src/types";
import { FakeDevices, fakeEnv, FakePC } from "./fake-webrtc";
import { FakeSounds, flush, NOW, stubMediaElements, text } from "./helpers";
import { calleeSnap, callerSnap, CALL_ID, ICE, resetFakes } from "./media-harness";

let root: HTMLElement;
let t: FakeTransport;
let app: App;
let devices: FakeDevices;
let sounds: FakeSounds;

async function start(snap: Snapshot, opts: { rtc?: boolean; kind?: "main" | "popup" } = {}) {
  t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: snap }), history: () => [], ice_config: () => ICE });
  devices = new FakeDevices();
  sounds = new FakeSounds();
  const api = createApi(t);
  app = new App({
    api,
    root,
    kind: opts.kind ?? "main",
    sounds,
    now: () => NOW,
    createMedia: (onChange) => new MediaController({ api, env: fakeEnv(devices, opts.rtc ?? true), onChange, log: () => undefined }),
  });
  await app.start();
  await flush();
}

const update = (u: HostUpdate) => t.emit(EVENT_UPDATE, u);
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => root.querySelector<T>(sel);

beforeAll(stubMediaElements);
beforeEach(() => {
  resetFakes();
  document.body.innerHTML = '<div id="app"></div>';
  root = document.getElementById("app") as HTMLElement;
});
afterEach(() => app?.dispose());

describe("App and media", () => {
  it("a signal notice goes to the media module without a render", async () => {
    await start(callerSnap("inCall", "accepted"));
    const render = vi.spyOn(app, "render");
    const peer = FakePC.all[0];
    expect(peer).toBeDefined();
    const before = peer?.candidates.length ?? 0;
    update({ notice: { kind: "signal", callId: CALL_ID, fromUserId: "bob", payload: { v: 1, candidate: null } }, snapshot: callerSnap("inCall", "accepted") });
    expect(render).not.toHaveBeenCalled();
    await flush();
    // No remote description yet: the candidate fails and is logged, not thrown.
    expect(peer?.candidates.length).toBe(before);
    expect(render).not.toHaveBeenCalled();
  });

  it("signals go out through the signal command; ice_config is asked when media starts", async () => {
    await start(callerSnap("outgoing", "received", "video"));
    expect(t.commands()).toContain("ice_config");
    update({ notice: { kind: "accepted", by: "bob" }, snapshot: callerSnap("inCall", "accepted", "video") });
    await flush();
    const sig = t.calls.find((c) => c.command === "signal");
    expect(sig?.args).toMatchObject({ callId: CALL_ID, toUserId: "bob", payload: { v: 1 } });
    expect(FakePC.all[0]?.config).toEqual({ iceServers: ICE.iceServers, iceTransportPolicy: "all" });
  });

  it("the callee's camera starts on the Accept click, not while ringing; a refused accept stops it", async () => {
    await start(calleeSnap("incoming", "video"));
    expect(devices.requests).toHaveLength(0);
    t.handlers.accept = () => {
      throw { kind: "notNow", message: "Too late." };
    };
    $('[data-action="accept"]')?.click();
    expect(devices.requests).toEqual([{ audio: true, video: true }]);
    await flush();
    expect(devices.made.length).toBe(2);
    expect(devices.made.every((x) => x.readyState === "ended")).toBe(true);
    expect(text($(".toast"))).toContain("Too late.");
  });

  it("mute and camera buttons toggle the tracks and the pressed state", async () => {
    await start(callerSnap("inCall", "accepted", "video"));
    const mute = () => $<HTMLButtonElement>('[data-action="mute"]');
    const cam = () => $<HTMLButtonElement>('[data-action="camera"]');
    expect(mute()?.getAttribute("aria-pressed")).toBe("false");
    mute()?.click();
    await flush();
    expect(mute()?.getAttribute("aria-pressed")).toBe("true");
    expect(devices.made.find((x) => x.kind === "audio")?.enabled).toBe(false);
    cam()?.click();
    await flush();
    expect(cam()?.getAttribute("aria-pressed")).toBe("true");
    expect(devices.made.find((x) => x.kind === "video")?.readyState).toBe("ended");
    expect(text($(".tile-local"))).toContain("Camera off");
  });

  it("the tray's Mute mutes the microphone here, and the host hears which way it went", async () => {
    await start(callerSnap("inCall", "accepted"));
    expect(t.commands()).not.toContain("set_muted");
    t.emit(EVENT_CONTROL, "toggleMute");
    await flush();
    expect(devices.made.find((x) => x.kind === "audio")?.enabled).toBe(false);
    expect($('[data-action="mute"]')?.getAttribute("aria-pressed")).toBe("true");
    expect(t.calls.filter((c) => c.command === "set_muted").map((c) => c.args)).toEqual([{ muted: true }]);
    $<HTMLButtonElement>('[data-action="mute"]')?.click();
    await flush();
    expect(t.calls.filter((c) => c.command === "set_muted").map((c) => c.args)).toEqual([{ muted: true }, { muted: false }]);
  });

  it("swap puts your camera large; the <video> nodes stay the same", async () => {
    await start(callerSnap("inCall", "accepted", "video"));
    const remote = $('video[data-remote-video="bob"]');
    const local = $("video[data-local-video]");
    $('[data-action="swap-video"]')?.click();
    await flush();
    expect($(".tiles")?.classList.contains("tiles-swapped")).toBe(true);
    expect($('video[data-remote-video="bob"]')).toBe(remote);
    expect($("video[data-local-video]")).toBe(local);
  });

  it("hang-up: the host ends the call and everything stops", async () => {
    await start(callerSnap("inCall", "accepted", "video"));
    await flush();
    const pc = FakePC.all[0];
    update({ notice: { kind: "finished", outcome: { kind: "hungUp" }, call: callerSnap("inCall", "accepted").call! }, snapshot: snapshot() });
    expect(pc?.closed).toBe(true);
    expect(devices.made.every((x) => x.readyState === "ended")).toBe(true);
    expect(app.page).toBe("home");
  });

  it("a mediaFailed outcome shows its banner", async () => {
    await start(callerSnap("inCall", "accepted"));
    update({ notice: { kind: "finished", outcome: { kind: "mediaFailed", problem: "couldNotConnect" }, call: callerSnap("inCall", "accepted").call! }, snapshot: snapshot() });
    expect(text($(".banner"))).toContain("Couldn't connect the call's audio");
  });

  it("ringback stops when the call is answered", async () => {
    await start(callerSnap("outgoing", "received"));
    expect(sounds.current).toBe("ringback");
    const s = callerSnap("inCall", "accepted");
    update({ notice: { kind: "accepted", by: "bob" }, snapshot: s });
    expect(sounds.current).toBe(null);
  });

  it("blocked autoplay offers a button that plays the media", async () => {
    await start(callerSnap("inCall", "accepted"));
    await flush();
    const audio = $<HTMLAudioElement>('audio[data-remote-audio="bob"]');
    const play = vi.spyOn(HTMLMediaElement.prototype, "play");
    audio?.dispatchEvent(new CustomEvent(PLAY_BLOCKED_EVENT, { bubbles: true }));
    expect(text($('[data-action="play-media"]'))).toBe("Turn on sound");
    $('[data-action="play-media"]')?.click();
    await flush();
    expect(play).toHaveBeenCalled();
    expect($('[data-action="play-media"]')).toBeNull();
  });

  it("a webview without WebRTC: the page says so and the button opens the browser", async () => {
    await start(fixtures.calling(NOW), { rtc: false });
    expect(text($(".media-note"))).toContain("This window can't carry");
    $('[data-action="open-in-browser"]')?.click();
    await flush();
    expect(t.commands()).toContain("open_in_browser");
    expect(devices.requests).toHaveLength(0);
  });

  it("the popup carries no media", async () => {
    await start(calleeSnap("incoming", "video", true), { kind: "popup" });
    expect(app.media).toBeNull();
    expect(devices.requests).toHaveLength(0);
  });
});
