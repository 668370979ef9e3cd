import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApi, EVENT_SETTINGS, EVENT_UPDATE } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { RECONNECTING, SETTINGS, finishedCall, fixtures, history, snapshot } from "../src/fixtures";
import type { Notice, Snapshot, Update } from "../src/types";
import { FakeSounds, flush, NOW, text } from "./helpers";

let root: HTMLElement;
let t: FakeTransport;
let sounds: FakeSounds;
let app: App;

async function start(opts: { snapshot?: Snapshot | null; settings?: typeof SETTINGS | null; kind?: "main" | "popup" } = {}) {
  let state = {
    settings: opts.settings === undefined ? SETTINGS : opts.settings,
    snapshot: opts.snapshot === undefined ? snapshot() : opts.snapshot,
  };
  t = new FakeTransport({
    app_state: () => state,
    history: () => history(NOW),
    save_settings: (a) => {
      state = { settings: a?.settings as typeof SETTINGS, snapshot: snapshot() };
    },
  });
  sounds = new FakeSounds();
  app = new App({ api: createApi(t), root, kind: opts.kind ?? "main", sounds, now: () => NOW, ownBannerMs: 50 });
  await app.start();
  await flush();
}

function update(snap: Snapshot, notice: Notice = { kind: "changed" }): void {
  const u: Update = { notice, snapshot: snap };
  t.emit(EVENT_UPDATE, u);
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => root.querySelector<T>(sel);

function type(sel: string, value: string): void {
  const input = $<HTMLInputElement>(sel);
  if (!input) throw new Error(`no ${sel}`);
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

function submit(sel: string): void {
  $(sel)?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
}

function esc(): void {
  document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
}

beforeEach(() => {
  document.body.innerHTML = '<div id="app"></div>';
  root = document.getElementById("app") as HTMLElement;
});

afterEach(() => {
  app?.dispose();
  vi.useRealTimers();
});

describe("window title", () => {
  it("the OS window is titled once per change, not on every render", async () => {
    await start();
    const titles = () => t.calls.filter((c) => c.command === "set_window_title").map((c) => c.args?.title);
    expect(titles()).toEqual(["Beckon"]);
    app.render();
    expect(titles()).toEqual(["Beckon"]);
    update(fixtures.incoming(NOW));
    expect(titles().at(-1)).toMatch(/^Incoming call — /);
    expect(titles()).toHaveLength(2);
  });
});

describe("start-up", () => {
  it("listens first, then asks app_state and history", async () => {
    await start();
    const asked = t.commands().filter((c) => c !== "set_window_title");
    expect(asked).toEqual(["app_state", "history"]);
    expect(t.calls.find((c) => c.command === "history")?.args).toEqual({ count: 50 });
    expect(app.page).toBe("home");
    expect(root.querySelectorAll(".recent")).toHaveLength(6);
  });

  it("first run shows settings; saving signs in and goes home", async () => {
    await start({ settings: null, snapshot: null });
    expect(app.page).toBe("settings");
    expect($('[data-page="settings"]')?.dataset.mode).toBe("first");
    type("#set-user", "carol");
    type("#set-name", "Carol Diaz");
    submit('[data-form="settings"]');
    await flush();
    const save = t.calls.find((c) => c.command === "save_settings");
    expect(save?.args).toEqual({
      settings: { serverUrl: "ws://127.0.0.1:7070/ws", userId: "carol", userName: "Carol Diaz", token: null },
    });
    expect(app.page).toBe("home");
  });

  it("an update that overtakes the state answer after saving is not undone by it", async () => {
    await start({ settings: null, snapshot: null });
    // The answer was computed while connecting; the "connected" update was sent after it
    // but arrives first (events and answers travel separately).
    let answer: (v: unknown) => void = () => {};
    t.handlers.app_state = () => new Promise((r) => (answer = r));
    type("#set-user", "carol");
    submit('[data-form="settings"]');
    await flush();
    expect(t.commands()).toContain("save_settings");
    update(snapshot({ userId: "carol" }));
    answer({ settings: SETTINGS, snapshot: snapshot({ userId: "carol", connection: RECONNECTING }) });
    await flush();
    expect(app.page).toBe("home");
    expect($("[data-conn]")?.dataset.conn).toBe("connected");
  });

  it("at start, an update that overtakes the state answer is not undone by it", async () => {
    let answer: (v: unknown) => void = () => {};
    t = new FakeTransport({ app_state: () => new Promise((r) => (answer = r)), history: () => [] });
    app = new App({ api: createApi(t), root, kind: "main", sounds: new FakeSounds(), now: () => NOW });
    const started = app.start();
    await flush();
    update(snapshot());
    answer({ settings: SETTINGS, snapshot: snapshot({ connection: RECONNECTING }) });
    await started;
    expect($("[data-conn]")?.dataset.conn).toBe("connected");
  });

  it("an invalid draft is not sent", async () => {
    await start({ settings: null, snapshot: null });
    submit('[data-form="settings"]');
    await flush();
    expect(t.commands()).not.toContain("save_settings");
    expect(text($("#set-user-error"))).toContain("user ID");
  });

  it("a refused sign-in stays on settings with the message", async () => {
    await start({ settings: null, snapshot: null });
    t.handlers.save_settings = () => Promise.reject({ kind: "loginRefused", message: "bad token" });
    type("#set-user", "carol");
    submit('[data-form="settings"]');
    await flush();
    expect(app.page).toBe("settings");
    expect(text($("#settings-error"))).toBe("bad token");
  });

  it("a sign-in the host refuses shows next to the field it names, which takes focus", async () => {
    await start({ settings: null, snapshot: null });
    t.handlers.save_settings = () =>
      Promise.reject({ kind: "offline", message: "Cannot reach the server at 127.0.0.1:1", field: "serverUrl" });
    type("#set-user", "carol");
    submit('[data-form="settings"]');
    await flush();
    expect(app.page).toBe("settings");
    expect(text($("#set-server-error"))).toBe("Cannot reach the server at 127.0.0.1:1");
    expect(document.activeElement?.id).toBe("set-server");
    expect($("#settings-error")).toBeNull();
    // What was typed stays.
    expect($<HTMLInputElement>("#set-user")?.value).toBe("carol");
  });

  it("do not disturb: the home toggle asks the host and shows what the snapshot says", async () => {
    await start();
    const toggle = () => $<HTMLButtonElement>('[data-action="toggle-dnd"]');
    expect(toggle()?.getAttribute("aria-pressed")).toBe("false");
    toggle()?.click();
    await flush();
    expect(t.calls.find((c) => c.command === "set_do_not_disturb")?.args).toEqual({ on: true });
    update(snapshot({ doNotDisturb: true }));
    expect(toggle()?.getAttribute("aria-pressed")).toBe("true");
    expect(text(toggle())).toBe("Do not disturb");
    // Off home it is a line, not a control.
    update(fixtures.waitingRinging(NOW));
    expect(toggle()).toBeNull();
  });

  it("start at login: the settings card shows what the host says and changes it", async () => {
    await start();
    let on = true;
    t.handlers.start_at_login = () => on;
    t.handlers.set_start_at_login = (a) => {
      on = a?.on as boolean;
    };
    root.querySelector<HTMLElement>('[data-action="edit-settings"]')?.click();
    await flush();
    const box = () => $<HTMLInputElement>('[data-field="startAtLogin"]');
    expect(box()?.checked).toBe(true);
    box()!.checked = false;
    box()!.dispatchEvent(new Event("change", { bubbles: true }));
    await flush();
    expect(t.calls.find((c) => c.command === "set_start_at_login")?.args).toEqual({ on: false });
    expect(box()?.checked).toBe(false);
  });

  it("start at login: no card where the host has no such setting (a browser)", async () => {
    await start();
    t.handlers.start_at_login = () => null;
    root.querySelector<HTMLElement>('[data-action="edit-settings"]')?.click();
    await flush();
    expect(t.commands()).toContain("start_at_login");
    expect($('[data-field="startAtLogin"]')).toBeNull();
  });

  it("Sign out (edit only) forgets the account and lands on first-run settings", async () => {
    await start();
    expect(t.commands()).not.toContain("sign_out");
    root.querySelector<HTMLElement>('[data-action="edit-settings"]')?.click();
    await flush();
    root.querySelector<HTMLElement>('[data-action="sign-out"]')?.click();
    await flush();
    expect(t.commands()).toContain("sign_out");
    expect(app.page).toBe("settings");
    expect($('[data-page="settings"]')?.dataset.mode).toBe("first");
    expect($('[data-action="sign-out"]')).toBeNull();
  });

  it("settings open from home and Esc goes back", async () => {
    await start();
    $('[data-action="edit-settings"]')?.click();
    expect(app.page).toBe("settings");
    expect($<HTMLInputElement>("#set-user")?.value).toBe("alice");
    esc();
    expect(app.page).toBe("home");
  });

  it("beckon://settings null (signed out) shows first-run settings", async () => {
    await start();
    t.emit(EVENT_SETTINGS, null);
    update(snapshot());
    expect(app.page).toBe("settings");
    expect($('[data-page="settings"]')?.dataset.mode).toBe("first");
  });
});

describe("placing calls", () => {
  it("Enter in the ID box starts a voice call with every ID", async () => {
    await start();
    type("#dial-ids", " bob, carol  dan; ");
    submit('[data-form="dial"]');
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "call", args: { users: ["bob", "carol", "dan"], callType: "voice" } });
    expect(app.model.dialText).toBe("");
  });

  it("Video call button", async () => {
    await start();
    type("#dial-ids", "bob");
    $('[data-action="call"][data-type="video"]')?.click();
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "call", args: { users: ["bob"], callType: "video" } });
  });

  it("an empty box asks for an ID and sends nothing", async () => {
    await start();
    $('[data-action="call"][data-type="voice"]')?.click();
    await flush();
    expect(t.commands()).not.toContain("call");
    expect(text($("#dial-error"))).toContain("user ID");
  });

  it("call-back from the history uses its IDs and type", async () => {
    await start();
    $('[data-call-id="h2"] [data-action="call-back"]')?.click();
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "call", args: { users: ["carol", "dan"], callType: "video" } });
  });

  it("a refused command shows its message as a toast and keeps the typed text", async () => {
    await start();
    t.handlers.call = () => Promise.reject({ kind: "invalidUsers", message: "No such user: zed." });
    type("#dial-ids", "zed");
    submit('[data-form="dial"]');
    await flush();
    expect(text($(".toast"))).toContain("No such user: zed.");
    expect($<HTMLInputElement>("#dial-ids")?.value).toBe("zed");
  });
});

describe("pages follow the snapshot", () => {
  it("waiting: ringback plays, Esc cancels, and the view change stops it", async () => {
    await start();
    update(fixtures.waitingRinging(NOW));
    expect(app.page).toBe("waiting");
    expect(sounds.current).toBe("ringback");
    esc();
    await flush();
    expect(t.commands()).toContain("cancel");
    update(snapshot(), { kind: "finished", outcome: { kind: "cancelled" }, call: finishedCall({ kind: "cancelled" }, NOW) });
    expect(app.page).toBe("home");
    expect(sounds.current).toBe(null);
    expect(sounds.log).toEqual(["ringback", null]);
  });

  it("calling 1:1: Hang up", async () => {
    await start({ snapshot: fixtures.calling(NOW) });
    expect(app.page).toBe("calling");
    expect(sounds.current).toBe(null);
    $('[data-action="hang-up"]')?.click();
    await flush();
    expect(t.commands()).toContain("hang_up");
  });

  it("calling group: invite more, leave, end for everyone", async () => {
    await start({ snapshot: fixtures.callingGroup(NOW) });
    type("#invite-ids", "gus, hana");
    submit('[data-form="invite"]');
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "invite_more", args: { users: ["gus", "hana"] } });
    expect(app.model.inviteText).toBe("");
    $('[data-action="leave"]')?.click();
    await flush();
    expect(t.commands().at(-1)).toBe("leave");
    $('[data-action="end-call"]')?.click();
    await flush();
    expect(t.commands().at(-1)).toBe("end_call");
  });

  it("the media toggles do nothing", async () => {
    await start({ snapshot: fixtures.calling(NOW) });
    const before = t.calls.length;
    $('[data-action="mute"]')?.click();
    $('[data-action="camera"]')?.click();
    await flush();
    expect(t.calls.length).toBe(before);
  });

  it("the ticker updates the elapsed time in the same element", async () => {
    vi.useFakeTimers();
    let now = NOW;
    t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW) }), history: () => [] });
    app = new App({ api: createApi(t), root, kind: "main", sounds: new FakeSounds(), now: () => now });
    await app.start();
    const el = $(".stage-duration");
    expect(text(el)).toBe("3:05");
    now += 61_000;
    vi.advanceTimersByTime(1000);
    expect($(".stage-duration")).toBe(el);
    expect(text(el)).toBe("4:06");
  });
});

describe("notices", () => {
  it("Finished shows its banner on home and refreshes the history", async () => {
    await start({ snapshot: fixtures.waitingRinging(NOW) });
    const before = t.commands().filter((c) => c === "history").length;
    update(snapshot(), { kind: "finished", outcome: { kind: "declined" }, call: finishedCall({ kind: "declined" }, NOW) });
    await flush();
    expect(app.page).toBe("home");
    expect(text($(".banner-title"))).toBe("bob declined");
    expect(t.commands().filter((c) => c === "history").length).toBe(before + 1);
    $('[data-action="dismiss-banner"]')?.click();
    expect($(".banner")).toBeNull();
  });

  it("a banner about the user's own doing fades", async () => {
    await start({ snapshot: fixtures.calling(NOW) });
    update(snapshot(), { kind: "finished", outcome: { kind: "hungUp" }, call: finishedCall({ kind: "hungUp" }, NOW) });
    expect(text($(".banner-title"))).toBe("Call ended");
    await new Promise((r) => setTimeout(r, 80));
    expect($(".banner")?.classList.contains("banner-faded")).toBe(true);
  });

  it("RejectedBusy: history refresh only, no toast, no sound", async () => {
    await start({ snapshot: fixtures.calling(NOW) });
    const before = t.commands().filter((c) => c === "history").length;
    update(fixtures.calling(NOW), { kind: "rejectedBusy", callId: "c9", callerId: "erin", callerName: "Erin", callType: "voice" });
    await flush();
    expect(t.commands().filter((c) => c === "history").length).toBe(before + 1);
    expect($(".toast")).toBeNull();
    expect(sounds.log).toEqual([]);
    expect(app.page).toBe("calling");
  });

  it("MissedWhileAway: a toast and a history refresh", async () => {
    await start();
    const before = t.commands().filter((c) => c === "history").length;
    update(snapshot(), { kind: "missedWhileAway", callId: "c8", callerId: "bob", callerName: "Bob Chen", callType: "video", answered: false });
    await flush();
    expect(text($(".toast"))).toContain("Missed video call from Bob Chen while you were offline.");
    expect(t.commands().filter((c) => c === "history").length).toBe(before + 1);
  });

  it("Error notices show as a toast", async () => {
    await start();
    update(snapshot(), { kind: "error", message: "server hiccup" });
    expect(text($(".toast"))).toContain("server hiccup");
  });
});

describe("incoming", () => {
  it("popup: ringtone, Accept sends the call ID, working stops the ringtone", async () => {
    await start({ kind: "popup", snapshot: fixtures.incoming(NOW) });
    expect(app.page).toBe("incoming");
    expect(sounds.current).toBe("ringtone");
    expect($(".topbar")).toBeNull();
    $('[data-action="accept"]')?.click();
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "accept", args: { callId: "call-in-1" } });
    update(fixtures.incomingAccepting(NOW));
    expect(sounds.current).toBe(null);
    expect($<HTMLButtonElement>('[data-action="accept"]')?.disabled).toBe(true);
  });

  it("popup: the audio engine starts with the window, before any call; the main window's does not", async () => {
    await start({ kind: "popup", snapshot: null });
    expect(sounds.prepared).toBe(1);
    expect(sounds.current).toBe(null);
    await start({ kind: "main" });
    expect(sounds.prepared).toBe(0);
  });

  it("the incoming page laid out at start to warm the fonts leaves nothing behind", async () => {
    for (const kind of ["main", "popup"] as const) {
      await start({ kind, snapshot: kind === "main" ? snapshot() : null });
      expect(document.querySelectorAll('[data-page="incoming"]')).toHaveLength(0);
      expect(document.body.children).toHaveLength(1);
    }
  });

  it("popup: Esc declines", async () => {
    await start({ kind: "popup", snapshot: fixtures.incomingVideo(NOW) });
    esc();
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "decline", args: { callId: "call-in-1" } });
  });

  it("popup: the call going away stops the ringtone; the popup never asks for history", async () => {
    await start({ kind: "popup", snapshot: fixtures.incoming(NOW) });
    update(snapshot(), { kind: "finished", outcome: { kind: "cancelledByCaller" }, call: finishedCall({ kind: "cancelledByCaller" }, NOW) });
    expect(sounds.current).toBe(null);
    expect(app.page).toBe("incoming-idle");
    expect(t.commands()).not.toContain("history");
    expect($(".banner")).toBeNull();
  });

  it("the main window does not ring (the popup does)", async () => {
    await start({ snapshot: fixtures.incoming(NOW) });
    expect(app.page).toBe("incoming");
    expect(sounds.current).toBe(null);
    $('[data-action="decline"]')?.click();
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "decline", args: { callId: "call-in-1" } });
  });
});

describe("rendering keeps the DOM nodes", () => {
  /** Starts the app on fake timers so the once-a-second re-render can be stepped. */
  async function startTicking(snap: Snapshot, clock: { now: number }) {
    vi.useFakeTimers();
    t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: snap }), history: () => history(NOW) });
    app = new App({ api: createApi(t), root, kind: "main", sounds: new FakeSounds(), now: () => clock.now });
    await app.start();
    await vi.advanceTimersByTimeAsync(0);
  }

  it("home: the ID box keeps its node, the focus and the caret across updates and ticks", async () => {
    const clock = { now: NOW };
    await startTicking(snapshot(), clock);
    const input = $<HTMLInputElement>("#dial-ids");
    if (!input) throw new Error("no #dial-ids");
    input.focus();
    type("#dial-ids", "bob, carol");
    input.setSelectionRange(3, 3);
    update(snapshot({ connection: RECONNECTING }));
    expect(text($(".dial .note"))).toContain("Reconnecting to the server");
    clock.now += 3000;
    vi.advanceTimersByTime(3000);
    update(snapshot());
    expect($("#dial-ids")).toBe(input);
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe("bob, carol");
    expect([input.selectionStart, input.selectionEnd]).toEqual([3, 3]);
  });

  it("home: a dial error shows and clears on the same focused input", async () => {
    await start();
    const input = $<HTMLInputElement>("#dial-ids");
    input?.focus();
    $('[data-action="call"][data-type="voice"]')?.click();
    await flush();
    expect(text($("#dial-error"))).toContain("user ID");
    expect(input?.getAttribute("aria-invalid")).toBe("true");
    type("#dial-ids", "b");
    expect($("#dial-error")).toBeNull();
    expect($("#dial-ids")).toBe(input);
    expect(input?.hasAttribute("aria-invalid")).toBe(false);
    expect(document.activeElement).toBe(input);
  });

  it("home: the model clears the typed IDs in the same input after a call is placed", async () => {
    await start();
    const input = $<HTMLInputElement>("#dial-ids");
    type("#dial-ids", "bob");
    submit('[data-form="dial"]');
    await flush();
    expect(t.commands()).toContain("call");
    expect($("#dial-ids")).toBe(input);
    expect(input?.value).toBe("");
  });

  it("home: a history refresh keeps each entry's node, so a focused call-back button stays on its call", async () => {
    await start();
    const back = $<HTMLButtonElement>('[data-call-id="h2"] [data-action="call-back"]');
    back?.focus();
    const newer = { ...history(NOW)[0]!, callId: "h0", withIds: ["gus"], withLabel: "gus", createdAt: NOW };
    t.handlers.history = () => [newer, ...history(NOW)];
    update(snapshot(), { kind: "finished", outcome: { kind: "declined" }, call: finishedCall({ kind: "declined" }, NOW) });
    await flush();
    expect(root.querySelectorAll(".recent")).toHaveLength(7);
    expect(root.querySelector(".recent")?.getAttribute("data-call-id")).toBe("h0");
    expect($('[data-call-id="h2"] [data-action="call-back"]')).toBe(back);
    expect(document.activeElement).toBe(back);
    expect(back?.dataset.users).toBe("carol,dan");
  });

  it("calling: the stage (where the video will live) keeps its node and state across ticks and snapshot updates", async () => {
    const clock = { now: NOW };
    const s = fixtures.callingGroup(NOW);
    await startTicking(s, clock);
    const stage = $('[data-page="calling"] .stage-center');
    const duration = $(".stage-duration");
    const bob = $('.member[data-user="bob"]');
    if (!stage || !duration || !bob) throw new Error("calling page not rendered");
    // A property on the node, like a <video>'s srcObject: only the same node still has it.
    const stream = {};
    (stage as unknown as { srcObject: unknown }).srcObject = stream;
    expect(text(duration)).toBe("12:34");
    for (let i = 0; i < 3; i++) {
      clock.now += 1000;
      vi.advanceTimersByTime(1000);
    }
    expect(text(duration)).toBe("12:37");
    const next = fixtures.callingGroup(NOW);
    const carol = next.call?.peers.find((p) => p.userId === "carol");
    if (carol) carol.state = "accepted";
    next.call?.peers.reverse();
    update(next, { kind: "accepted", by: "carol" });
    expect($('.member[data-user="carol"]')?.getAttribute("data-state")).toBe("accepted");
    expect($('.member[data-user="bob"]')).toBe(bob);
    expect($('[data-page="calling"] .stage-center')).toBe(stage);
    expect((stage as unknown as { srcObject: unknown }).srcObject).toBe(stream);
    expect($(".stage-duration")).toBe(duration);
    clock.now += 1000;
    vi.advanceTimersByTime(1000);
    expect(text(duration)).toBe("12:38");
  });

  it("calling: the invite box keeps focus and caret while the timer ticks", async () => {
    const clock = { now: NOW };
    await startTicking(fixtures.callingGroup(NOW), clock);
    const input = $<HTMLInputElement>("#invite-ids");
    if (!input) throw new Error("no #invite-ids");
    input.focus();
    type("#invite-ids", "gus, hana");
    input.setSelectionRange(2, 5);
    clock.now += 2000;
    vi.advanceTimersByTime(2000);
    update(fixtures.callingGroup(NOW));
    expect($("#invite-ids")).toBe(input);
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe("gus, hana");
    expect([input.selectionStart, input.selectionEnd]).toEqual([2, 5]);
  });

  it("a box cleared with only a change event (WebDriver clear) stays empty through the next render", async () => {
    const clock = { now: NOW };
    await startTicking(snapshot(), clock);
    $('[data-action="edit-settings"]')?.click();
    const input = $<HTMLInputElement>("#set-server");
    if (!input) throw new Error("no #set-server");
    expect(input.value).toBe(SETTINGS.serverUrl);
    input.value = "";
    input.dispatchEvent(new Event("change", { bubbles: true }));
    clock.now += 1000;
    vi.advanceTimersByTime(1000);
    expect($("#set-server")).toBe(input);
    expect(input.value).toBe("");
  });

  it("settings: a field keeps its node, focus and text when the connection changes underneath", async () => {
    await start();
    $('[data-action="edit-settings"]')?.click();
    const input = $<HTMLInputElement>("#set-name");
    if (!input) throw new Error("no #set-name");
    input.focus();
    type("#set-name", "Alice M.");
    update(snapshot({ connection: RECONNECTING }));
    t.emit(EVENT_SETTINGS, SETTINGS);
    expect(app.page).toBe("settings");
    expect($("#set-name")).toBe(input);
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe("Alice M.");
  });
});
