import { render } from "lit-html";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CONNECTED,
  DISCONNECTED,
  RECONNECTING,
  SETTINGS,
  fixtures,
  history,
  mediaView,
  peerView,
  snapshot,
} from "../src/fixtures";
import { renderCalling } from "../src/pages/calling";
import { renderHome, type HomeView } from "../src/pages/home";
import { renderIncoming } from "../src/pages/incoming";
import { DEFAULT_SERVER_URL, draftFrom, renderSettings, settingsFromDraft } from "../src/pages/settings";
import { renderWaiting } from "../src/pages/waiting";
import { DEFAULT_SOUND_PREFS } from "../src/sounds";
import type { Snapshot } from "../src/types";
import { emptyModel, pageFor, renderWindow, type Model } from "../src/view";
import { FakeStream, FakeTrack } from "./fake-webrtc";
import { mount, NOW, stubMediaElements, text } from "./helpers";

beforeAll(stubMediaElements);

const stream = (...kinds: ("audio" | "video")[]) => new FakeStream(kinds.map((k) => new FakeTrack(k))) as unknown as MediaStream;

function call(s: Snapshot) {
  if (!s.call) throw new Error("fixture without a call");
  return s.call;
}

function home(over: Partial<HomeView> = {}): HTMLElement {
  return mount(
    renderHome({
      snapshot: snapshot(),
      dialText: "",
      dialError: null,
      history: history(NOW),
      historyError: null,
      missedSince: null,
      banner: null,
      busy: null,
      now: NOW,
      ...over,
    }),
  );
}

function model(over: Partial<Model>): Model {
  return { ...emptyModel(), loaded: true, ...over };
}

describe("settings page", () => {
  it("first run: empty profile, default server URL, Sign in, no Cancel", () => {
    const el = mount(
      renderSettings({ mode: "first", draft: draftFrom(null), saving: false, error: null, errorField: null, notSignedIn: false, canCancel: false, sounds: DEFAULT_SOUND_PREFS, previewing: false }),
    );
    expect(text(el.querySelector("h1"))).toBe("Welcome to Beckon");
    expect(el.querySelector<HTMLInputElement>("#set-server")?.value).toBe("ws://127.0.0.1:7070/ws");
    expect(el.querySelector<HTMLInputElement>("#set-user")?.value).toBe("");
    expect(el.querySelector<HTMLInputElement>("#set-name")?.value).toBe("");
    expect(el.querySelector<HTMLInputElement>("#set-token")?.type).toBe("password");
    expect(text(el.querySelector('label[for="set-token"]'))).toContain("optional");
    expect(text(el.querySelector('button[type="submit"]'))).toBe("Sign in");
    expect(el.querySelector('[data-action="cancel-settings"]')).toBeNull();
    // Every input has a label (its own <label for>, or the <label> around it).
    for (const input of Array.from(el.querySelectorAll("input"))) expect(input.labels?.length).toBeGreaterThan(0);
  });

  it("edit: filled from the saved settings, Save and Cancel", () => {
    const el = mount(
      renderSettings({
        mode: "edit",
        draft: draftFrom({ ...SETTINGS, token: "s3cret" }),
        saving: false,
        error: null,
        errorField: null,
        notSignedIn: false,
        canCancel: true,
        sounds: DEFAULT_SOUND_PREFS,
        previewing: false,
      }),
    );
    expect(text(el.querySelector("h1"))).toBe("Settings");
    expect(el.querySelector<HTMLInputElement>("#set-user")?.value).toBe("alice");
    expect(el.querySelector<HTMLInputElement>("#set-name")?.value).toBe("Alice Martin");
    expect(el.querySelector<HTMLInputElement>("#set-token")?.value).toBe("s3cret");
    expect(text(el.querySelector('button[type="submit"]'))).toBe("Save and sign in");
    expect(el.querySelector('[data-action="cancel-settings"]')).not.toBeNull();
  });

  it("saving and error states", () => {
    const el = mount(
      renderSettings({ mode: "edit", draft: draftFrom(SETTINGS), saving: true, error: "login refused", errorField: null, notSignedIn: true, canCancel: false, sounds: DEFAULT_SOUND_PREFS, previewing: false }),
    );
    const submit = el.querySelector<HTMLButtonElement>('button[type="submit"]');
    expect(submit?.disabled).toBe(true);
    expect(text(submit)).toBe("Signing in…");
    expect(text(el.querySelector('[role="alert"]'))).toBe("login refused");
    expect(text(el)).toContain("You're not signed in");
  });

  it("a problem with one field shows next to it, marks it invalid, and not under the form", () => {
    const el = mount(
      renderSettings({
        mode: "first",
        draft: draftFrom(null),
        saving: false,
        error: "The token was refused: ask whoever runs your server for a new one.",
        errorField: "token",
        notSignedIn: false,
        canCancel: false,
        sounds: DEFAULT_SOUND_PREFS,
        previewing: false,
      }),
    );
    const token = el.querySelector<HTMLInputElement>("#set-token");
    expect(token?.getAttribute("aria-invalid")).toBe("true");
    expect(token?.getAttribute("aria-describedby")).toContain("set-token-error");
    expect(text(el.querySelector("#set-token-error"))).toContain("token was refused");
    expect(el.querySelector("#set-server")?.getAttribute("aria-invalid")).toBeNull();
    expect(el.querySelector("#settings-error")).toBeNull();
  });

  it("checks the draft and turns an empty token into null", () => {
    expect(settingsFromDraft({ serverUrl: " ", userId: "a", userName: "", token: "" })).toMatchObject({ field: "serverUrl" });
    // The host converts other forms of address; the page does not refuse them.
    expect(settingsFromDraft({ serverUrl: "http://x", userId: "a", userName: "", token: "" })).toMatchObject({
      settings: { serverUrl: "http://x" },
    });
    expect(settingsFromDraft({ serverUrl: DEFAULT_SERVER_URL, userId: " ", userName: "", token: "" })).toMatchObject({ field: "userId" });
    expect(settingsFromDraft({ serverUrl: DEFAULT_SERVER_URL, userId: "a b", userName: "", token: "" })).toMatchObject({ field: "userId" });
    expect(settingsFromDraft({ serverUrl: ` ${DEFAULT_SERVER_URL} `, userId: "bob", userName: "", token: " " })).toEqual({
      settings: { serverUrl: DEFAULT_SERVER_URL, userId: "bob", userName: "bob", token: null },
    });
  });

  it.each(["first", "edit"] as const)("%s: a Sounds card apart from the form, every control labelled, applied without saving", (mode) => {
    const view = { mode, draft: draftFrom(mode === "first" ? null : SETTINGS), saving: false, error: null, errorField: null, notSignedIn: false, canCancel: mode === "edit" };
    const el = mount(renderSettings({ ...view, sounds: { ringtone: "chime", volume: 40 }, previewing: false }));
    const card = el.querySelector<HTMLElement>(".sounds-card");
    expect(card).not.toBeNull();
    // Outside the form: "Save and sign in" never carries them.
    expect(card?.closest("form")).toBeNull();
    expect(text(card?.querySelector("h2"))).toBe("Sounds");
    expect(text(card)).toMatch(/apply at once and need no saving/);
    const radios = Array.from(card!.querySelectorAll<HTMLInputElement>('input[type="radio"]'));
    expect(radios.map((r) => text(r.labels?.[0]))).toEqual(["Trill", "Chime", "Classic"]);
    expect(radios.filter((r) => r.checked).map((r) => r.value)).toEqual(["chime"]);
    expect(text(card?.querySelector("legend"))).toBe("Ringtone");
    const slider = card?.querySelector<HTMLInputElement>('input[type="range"]');
    expect(text(slider?.labels?.[0])).toBe("Ring volume");
    expect([slider?.min, slider?.max, slider?.value]).toEqual(["0", "100", "40"]);
    expect(slider?.getAttribute("aria-valuetext")).toBe("40 %");
    const play = card?.querySelector<HTMLButtonElement>('[data-action="preview-ringtone"]');
    expect(text(play)).toBe("Play");
    expect(play?.getAttribute("aria-label")).toBe("Play the ringtone");

    const silent = mount(renderSettings({ ...view, sounds: { ringtone: "trill", volume: 0 }, previewing: true }));
    expect(silent.querySelector('input[type="range"]')?.getAttribute("aria-valuetext")).toBe("0 %, silent");
    expect(text(silent.querySelector("#set-volume-hint"))).toMatch(/^Silent/);
    expect(text(silent.querySelector('[data-action="preview-ringtone"]'))).toBe("Stop");
  });

  it("the main window shows settings on first run, when not signed in, and while editing", () => {
    expect(pageFor(model({ settings: null, snapshot: null }), "main")).toBe("settings");
    expect(pageFor(model({ settings: SETTINGS, snapshot: null }), "main")).toBe("settings");
    expect(pageFor(model({ settings: SETTINGS, snapshot: snapshot(), editingSettings: true }), "main")).toBe("settings");
    expect(pageFor(model({ settings: SETTINGS, snapshot: snapshot() }), "main")).toBe("home");
    expect(pageFor({ ...emptyModel() }, "main")).toBe("loading");
  });
});

describe("home page", () => {
  it("shows my name and ID, the ID box and both call buttons", () => {
    const el = home();
    expect(text(el.querySelector(".me-name"))).toBe("Alice Martin");
    expect(text(el.querySelector(".me-id"))).toContain("alice");
    const input = el.querySelector<HTMLInputElement>("#dial-ids");
    expect(input).not.toBeNull();
    expect(el.querySelector('label[for="dial-ids"]')).not.toBeNull();
    expect(text(el.querySelector('[data-action="call"][data-type="voice"]'))).toBe("Voice call");
    expect(text(el.querySelector('[data-action="call"][data-type="video"]'))).toBe("Video call");
  });

  it.each([
    ["connected", CONNECTED, "Online", "pill-ok", null],
    ["reconnecting", RECONNECTING, "Reconnecting…", "pill-warn", "Reconnecting to the server (attempt 3)"],
    ["disconnected", DISCONNECTED, "Offline", "pill-bad", "You're offline (login refused: bad token)"],
  ] as const)("connection %s: the pill and the note", (_name, connection, pillText, cls, note) => {
    const m = model({ settings: SETTINGS, snapshot: snapshot({ connection }), history: history(NOW) });
    const el = mount(renderWindow(m, "main", NOW));
    const pill = el.querySelector(".conn-pill");
    expect(text(pill)).toBe(pillText);
    expect(pill?.classList.contains(cls)).toBe(true);
    expect(pill?.getAttribute("aria-label")).toMatch(/^Connection: /);
    const notes = text(el.querySelector(".dial"));
    if (note) expect(notes).toContain(note);
    else expect(el.querySelector(".dial .note")).toBeNull();
  });

  it("the connection pill shows on every page of the main window", () => {
    for (const s of [fixtures.waitingRinging(NOW), fixtures.calling(NOW), fixtures.incoming(NOW)]) {
      const el = mount(renderWindow(model({ settings: SETTINGS, snapshot: s }), "main", NOW));
      expect(el.querySelector(".conn-pill")).not.toBeNull();
    }
  });

  it("recent calls: missed and busy-reject entries are marked, each has a call-back button", () => {
    const el = home();
    const items = Array.from(el.querySelectorAll(".recent"));
    expect(items).toHaveLength(6);
    const missed = el.querySelector('[data-call-id="h1"]');
    expect(missed?.classList.contains("recent-missed")).toBe(true);
    expect(text(missed?.querySelector(".badge"))).toBe("Missed");
    expect(text(missed?.querySelector(".recent-result"))).toBe("Not answered");
    const busy = el.querySelector('[data-call-id="h3"]');
    expect(busy?.classList.contains("recent-busy")).toBe(true);
    expect(text(busy?.querySelector(".recent-result"))).toBe("You were on another call");
    const answered = el.querySelector('[data-call-id="h2"]');
    expect(answered?.classList.contains("recent-missed")).toBe(false);
    expect(text(answered?.querySelector(".recent-result"))).toBe("Answered · 12 min");
    expect(text(el.querySelector('[data-call-id="h4"] .recent-result'))).toBe("No answer");
    expect(text(el.querySelector('[data-call-id="h6"] .recent-result'))).toBe("Declined");
    const back = answered?.querySelector<HTMLButtonElement>('[data-action="call-back"]');
    expect(back?.dataset.users).toBe("carol,dan");
    expect(back?.dataset.type).toBe("video");
    expect(back?.getAttribute("aria-label")).toBe("Call back carol, dan (video call)");
    expect(items.every((i) => i.querySelector('[data-action="call-back"]'))).toBe(true);
  });

  it("recent calls: loading, empty and error", () => {
    expect(text(home({ history: null }).querySelector(".recents"))).toContain("Loading recent calls");
    expect(text(home({ history: [] }).querySelector(".recents"))).toContain("No calls yet");
    const err = home({ history: null, historyError: "not connected" });
    expect(text(err.querySelector(".recents"))).toContain("Couldn't load recent calls: not connected");
    expect(err.querySelector('[data-action="retry-history"]')).not.toBeNull();
  });

  it("keeps the typed IDs and shows a dial error", () => {
    const el = home({ dialText: "bob, carol", dialError: "Type the user ID" });
    expect(el.querySelector<HTMLInputElement>("#dial-ids")?.value).toBe("bob, carol");
    expect(el.querySelector("#dial-ids")?.getAttribute("aria-invalid")).toBe("true");
    expect(text(el.querySelector("#dial-error"))).toBe("Type the user ID");
  });

  it("escapes what users typed or named themselves", () => {
    const el = home({ dialText: '"><img src=x onerror=alert(1)>', snapshot: snapshot({ userName: "<b>Eve</b>" }) });
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(text(el.querySelector(".me-name"))).toBe("<b>Eve</b>");
  });
});

describe("waiting page", () => {
  it("1:1 ringing: who, Ringing, elapsed time from createdAt, Cancel", () => {
    const s = fixtures.waitingRinging(NOW);
    const el = mount(renderWaiting({ call: call(s), busy: null, now: NOW }));
    expect(text(el.querySelector(".stage-title"))).toBe("bob");
    expect(text(el.querySelector(".stage-status"))).toBe("Ringing");
    expect(text(el.querySelector("[data-since]"))).toBe("0:12");
    expect(el.querySelector("[data-since]")?.getAttribute("data-since")).toBe(String(NOW - 12_000));
    const cancel = el.querySelector('[data-action="cancel"]');
    expect(cancel?.getAttribute("aria-label")).toBe("Cancel call to bob");
    expect(text(el.querySelector(".stage-kind"))).toBe("Voice call");
    expect(el.querySelector(".stage-avatar.ringing")).not.toBeNull();
  });

  it("a callee who isn't online: may be signed out or a mistyped ID, never a promise to ring", () => {
    const el = mount(renderWaiting({ call: call(fixtures.waitingOffline(NOW)), busy: null, now: NOW }));
    // The server can't tell an unknown ID from a signed-out user, so the page names both.
    expect(text(el.querySelector(".stage-status"))).toBe("dan isn't online — they may be signed out, or the ID may be mistyped.");
    // The host gives an outgoing call no ring deadline: the note leaves the time out.
    expect(text(el.querySelector('[data-note="not-online"]'))).toBe("It rings if they sign in before the call stops ringing.");
    expect(el.querySelector('[data-note="not-online"]')?.closest("[aria-live], [role=status]")).toBeNull();
    expect(text(el)).not.toMatch(/come online|Offline/);
    expect(text(el.querySelector(".stage-kind"))).toBe("Video call");
    expect(el.querySelector(".stage-avatar.ringing")).toBeNull();
  });

  it("a callee who isn't online, with a ring deadline: the time left to sign in", () => {
    const c = { ...call(fixtures.waitingOffline(NOW)), ringUntil: NOW + 42_000 };
    const el = mount(renderWaiting({ call: c, busy: null, now: NOW }));
    expect(text(el.querySelector('[data-note="not-online"]'))).toBe("It rings if they sign in within 0:42.");
  });

  it("a callee who is ringing gets no not-online note", () => {
    const el = mount(renderWaiting({ call: call(fixtures.waitingRinging(NOW)), busy: null, now: NOW }));
    expect(el.querySelector('[data-note="not-online"]')).toBeNull();
  });

  it("before the server answered: Calling…", () => {
    const el = mount(renderWaiting({ call: call(fixtures.waitingPlacing(NOW)), busy: null, now: NOW }));
    expect(text(el.querySelector(".stage-status"))).toBe("Calling…");
  });

  it("group with one declined: every callee with their own status", () => {
    const el = mount(renderWaiting({ call: call(fixtures.waitingGroup(NOW)), busy: null, now: NOW }));
    expect(text(el.querySelector(".stage-title"))).toBe("bob, carol and dan");
    expect(text(el.querySelector(".stage-kind"))).toBe("Voice call · group");
    const row = (id: string) => text(el.querySelector(`.member[data-user="${id}"] .pill`));
    expect(row("bob")).toBe("Ringing");
    expect(row("carol")).toBe("Declined");
    expect(row("dan")).toBe("Not online");
    expect(text(el.querySelector(".stage-status"))).toBe("Ringing 1 · 1 not online");
    expect(text(el.querySelector('[data-note="not-online"]'))).toBe(
      "dan isn't online — they may be signed out, or the ID may be mistyped. It rings if they sign in before the call stops ringing.",
    );
  });

  it("busy, no answer and cancelling", () => {
    const s = fixtures.waitingGroup(NOW);
    const c = call(s);
    c.peers = [
      { userId: "bob", name: "bob", state: "rejected", reason: "busy" },
      { userId: "carol", name: "carol", state: "timeout", reason: null },
    ];
    const el = mount(renderWaiting({ call: c, busy: "cancel", now: NOW }));
    expect(text(el.querySelector('.member[data-user="bob"] .pill'))).toBe("Busy");
    expect(text(el.querySelector('.member[data-user="carol"] .pill'))).toBe("No answer");
    expect(el.querySelector<HTMLButtonElement>('[data-action="cancel"]')?.disabled).toBe(true);
    expect(text(el.querySelector(".control-label"))).toBe("Cancelling…");
  });
});

describe("waiting page media", () => {
  it("a video call shows your camera preview while it rings; a voice call does not", () => {
    const local = stream("audio", "video");
    const media = mediaView({ local, cameraOn: true });
    const video = { ...call(fixtures.waitingRinging(NOW)), callType: "video" as const };
    const el = mount(renderWaiting({ call: video, busy: null, now: NOW, media }));
    expect(el.querySelector<HTMLVideoElement>(".preview-pip video[data-local-video]")?.srcObject).toBe(local);
    const voice = mount(renderWaiting({ call: call(fixtures.waitingRinging(NOW)), busy: null, now: NOW, media }));
    expect(voice.querySelector("video")).toBeNull();
    const unsupported = mount(renderWaiting({ call: video, busy: null, now: NOW, media: mediaView({ supported: false }) }));
    expect(unsupported.querySelector('[data-action="open-in-browser"]')).not.toBeNull();
  });
});

describe("calling page", () => {
  it("1:1 video, connected: remote video large, your camera small, live toggles, Hang up", () => {
    const remote = stream("audio", "video");
    const local = stream("audio", "video");
    const media = mediaView({ local, cameraOn: true, peers: [peerView("bob", remote, { hasVideo: true, remoteSending: { audio: true, video: true } })] });
    const el = mount(renderCalling({ selfId: "alice", call: call(fixtures.calling(NOW)), inviteText: "", inviteError: null, busy: null, now: NOW, media, swapped: false }));
    expect(el.querySelector("main")?.dataset.media).toBe("connected");
    expect(text(el.querySelector("#stage-title"))).toBe("bob");
    expect(text(el.querySelector(".tile-status .stage-duration"))).toBe("3:05");
    const rv = el.querySelector<HTMLVideoElement>('video[data-remote-video="bob"]');
    expect(rv?.srcObject).toBe(remote);
    expect(rv?.hidden).toBe(false);
    expect(rv?.muted).toBe(true);
    expect(el.querySelector<HTMLVideoElement>("video[data-local-video]")?.srcObject).toBe(local);
    expect(el.querySelector<HTMLAudioElement>('audio[data-remote-audio="bob"]')?.srcObject).toBe(remote);
    expect(el.querySelector(".media-note")).toBeNull();
    const mute = el.querySelector<HTMLButtonElement>('[data-action="mute"]');
    const camera = el.querySelector<HTMLButtonElement>('[data-action="camera"]');
    expect(mute?.disabled).toBe(false);
    expect(mute?.getAttribute("aria-pressed")).toBe("false");
    expect(camera?.disabled).toBe(false);
    expect(camera?.getAttribute("aria-pressed")).toBe("false");
    expect(el.querySelector('[data-action="swap-video"]')?.getAttribute("aria-pressed")).toBe("false");
    expect(el.querySelector('[data-action="hang-up"]')?.getAttribute("aria-label")).toBe("Hang up");
    expect(el.querySelector('[data-action="leave"]')).toBeNull();
    expect(el.querySelector('[data-action="end-call"]')).toBeNull();
    expect(el.querySelector(".members")).toBeNull();
  });

  it("1:1 voice: the caller's name, remote sound in a hidden <audio>, no camera toggle", () => {
    const remote = stream("audio");
    const media = mediaView({ local: stream("audio"), peers: [peerView("bob", remote)] });
    const el = mount(renderCalling({ selfId: "alice", call: call(fixtures.callingVoice(NOW)), inviteText: "", inviteError: null, busy: null, now: NOW, media }));
    expect(text(el.querySelector(".stage-title"))).toBe("Bob Chen");
    expect(text(el.querySelector(".stage-kind"))).toBe("Voice call");
    expect(text(el.querySelector(".stage-status"))).toBe("Duration 0:42");
    expect(el.querySelector("video")).toBeNull();
    expect(el.querySelector<HTMLAudioElement>('audio[data-remote-audio="bob"]')?.srcObject).toBe(remote);
    expect(el.querySelector<HTMLElement>(".remote-audio")?.hidden).toBe(true);
    expect(el.querySelector<HTMLButtonElement>('[data-action="camera"]')?.disabled).toBe(true);
  });

  it("connecting, reconnecting, muted, device notes", () => {
    const c = call(fixtures.callingVoice(NOW));
    const r = (media: ReturnType<typeof mediaView>) => mount(renderCalling({ selfId: "alice", call: c, inviteText: "", inviteError: null, busy: null, now: NOW, media }));
    expect(text(r(mediaView()).querySelector(".stage-status"))).toBe("Connecting…");
    expect(text(r(mediaView({ peers: [peerView("bob", stream(), { health: "connecting" })] })).querySelector(".stage-status"))).toBe("Connecting…");
    const re = r(mediaView({ peers: [peerView("bob", stream(), { health: "reconnecting" })] }));
    expect(text(re.querySelector(".stage-status"))).toBe("Reconnecting…");
    expect(re.querySelector("main")?.dataset.media).toBe("reconnecting");
    const muted = r(mediaView({ micOn: false, peers: [peerView("bob", stream())] }));
    expect(muted.querySelector('[data-action="mute"]')?.getAttribute("aria-pressed")).toBe("true");
    expect(text(muted.querySelector('[data-action="mute"] + .control-label'))).toBe("Muted");
    const noMic = r(mediaView({ hasMic: false, notes: [{ kind: "noMicrophone", reason: { kind: "notFound", message: "" } }] }));
    expect(text(noMic.querySelector(".media-note"))).toBe("No microphone found: you can hear them, but they can't hear you.");
    expect(noMic.querySelector<HTMLButtonElement>('[data-action="mute"]')?.disabled).toBe(true);
    const denied = r(mediaView({ hasMic: false, notes: [{ kind: "denied", video: false, reason: { kind: "denied", message: "" } }] }));
    expect(text(denied.querySelector(".media-note-bad"))).toContain("isn't allowed to use your microphone");
    const v = call(fixtures.calling(NOW));
    const noCam = mount(renderCalling({ selfId: "alice", call: v, inviteText: "", inviteError: null, busy: null, now: NOW, media: mediaView({ notes: [{ kind: "noCamera", reason: { kind: "notFound", message: "" } }] }) }));
    expect(text(noCam.querySelector(".media-note"))).toBe("No camera found: this call continues as voice.");
    expect(text(noCam.querySelector(".tile-local"))).toContain("Camera off");
    expect(noCam.querySelector(".tile-remote .avatar")).not.toBeNull();
  });

  it("a webview without WebRTC says so and offers the browser", () => {
    const el = mount(renderCalling({ selfId: "alice", call: call(fixtures.calling(NOW)), inviteText: "", inviteError: null, busy: null, now: NOW, media: mediaView({ supported: false }) }));
    expect(el.querySelector("main")?.dataset.media).toBe("unsupported");
    expect(text(el.querySelector(".media-note"))).toContain("This window can't carry the call's audio or video.");
    expect(text(el.querySelector('[data-action="open-in-browser"]'))).toBe("Open calls in your browser");
    expect(el.querySelector<HTMLButtonElement>('[data-action="mute"]')?.disabled).toBe(true);
    expect(el.querySelector<HTMLButtonElement>('[data-action="camera"]')?.disabled).toBe(true);
    expect(el.querySelector("video")).toBeNull();
  });

  it("the <video> and <audio> elements survive re-renders as the media state changes", () => {
    const remote = stream("audio", "video");
    const c = call(fixtures.calling(NOW));
    const el = document.createElement("div");
    const draw = (media: ReturnType<typeof mediaView>, swapped = false) =>
      render(renderCalling({ selfId: "alice", call: c, inviteText: "", inviteError: null, busy: null, now: NOW, media, swapped }), el);
    draw(mediaView({ peers: [peerView("bob", remote, { health: "connecting" })] }));
    const video = el.querySelector('video[data-remote-video="bob"]');
    const audio = el.querySelector('audio[data-remote-audio="bob"]');
    const local = el.querySelector("video[data-local-video]");
    expect(video?.hasAttribute("hidden")).toBe(true);
    draw(mediaView({ local: stream("video"), cameraOn: true, peers: [peerView("bob", remote, { hasVideo: true })] }));
    draw(mediaView({ local: stream("video"), cameraOn: true, peers: [peerView("bob", remote, { hasVideo: true, health: "reconnecting" })] }), true);
    expect(el.querySelector('video[data-remote-video="bob"]')).toBe(video);
    expect(el.querySelector('audio[data-remote-audio="bob"]')).toBe(audio);
    expect(el.querySelector("video[data-local-video]")).toBe(local);
    expect(video?.hasAttribute("hidden")).toBe(false);
    expect(el.querySelector(".tiles")?.classList.contains("tiles-swapped")).toBe(true);
  });

  it("group: each member with state, Invite more, Leave and End for everyone", () => {
    const el = mount(renderCalling({ selfId: "alice", call: call(fixtures.callingGroup(NOW)), inviteText: "gus", inviteError: null, busy: null, now: NOW }));
    const row = (id: string) => text(el.querySelector(`.member[data-user="${id}"] .pill`));
    expect(row("bob")).toBe("In the call");
    expect(row("carol")).toBe("Ringing");
    expect(row("dan")).toBe("Busy");
    expect(row("erin")).toBe("Left");
    expect(row("frank")).toBe("Not online");
    expect(text(el.querySelector('.members [data-note="not-online"]'))).toBe(
      "frank isn't online — they may be signed out, or the ID may be mistyped. It rings if they sign in before the call stops ringing.",
    );
    expect(text(el.querySelector(".stage-duration"))).toBe("12:34");
    expect(el.querySelector<HTMLInputElement>("#invite-ids")?.value).toBe("gus");
    expect(text(el.querySelector('[data-form="invite"] button'))).toBe("Invite more");
    expect(el.querySelector('[data-action="leave"]')?.getAttribute("aria-label")).toBe("Leave the call");
    expect(el.querySelector('[data-action="end-call"]')?.getAttribute("aria-label")).toBe("End the call for everyone");
    expect(el.querySelector('[data-action="hang-up"]')).toBeNull();
    // No media module given: shown as a window that can't carry media.
    expect(text(el.querySelector(".media-note"))).toContain("can't carry");
  });

  it("group: an invite on its way disables the box", () => {
    const c = call(fixtures.callingGroup(NOW));
    c.working = true;
    const el = mount(renderCalling({ selfId: "alice", call: c, inviteText: "", inviteError: null, busy: null, now: NOW }));
    expect(el.querySelector<HTMLInputElement>("#invite-ids")?.disabled).toBe(true);
    expect(text(el.querySelector('[data-form="invite"] button'))).toBe("Inviting…");
  });

  it("a member who dropped: connection lost", () => {
    const c = call(fixtures.callingGroup(NOW));
    c.peers = [{ userId: "erin", name: "erin", state: "quit", reason: "connectionLost" }];
    const el = mount(renderCalling({ selfId: "alice", call: c, inviteText: "", inviteError: null, busy: null, now: NOW }));
    expect(text(el.querySelector('.member[data-user="erin"] .pill'))).toBe("Connection lost");
  });
});

describe("incoming popup", () => {
  it("voice: caller name, voice, Accept and Decline", () => {
    const el = mount(renderIncoming({ call: call(fixtures.incoming(NOW)), compact: true, busy: null }));
    expect(text(el.querySelector(".incoming-name"))).toBe("Bob Chen");
    expect(text(el.querySelector(".incoming-sub"))).toBe("Incoming voice call");
    const accept = el.querySelector<HTMLButtonElement>('[data-action="accept"]');
    const decline = el.querySelector<HTMLButtonElement>('[data-action="decline"]');
    expect(accept?.getAttribute("aria-label")).toBe("Accept voice call from Bob Chen");
    expect(decline?.getAttribute("aria-label")).toBe("Decline call from Bob Chen");
    expect(accept?.disabled).toBe(false);
    expect(accept?.classList.contains("round-green")).toBe(true);
    expect(decline?.classList.contains("round-red")).toBe(true);
    expect(el.querySelector("main")?.getAttribute("role")).toBe("alertdialog");
    expect(el.querySelector('[data-page="incoming"]')?.getAttribute("data-state")).toBe("ringing");
  });

  it("video", () => {
    const el = mount(renderIncoming({ call: call(fixtures.incomingVideo(NOW)), compact: true, busy: null }));
    expect(text(el.querySelector(".incoming-sub"))).toBe("Incoming video call");
    expect(el.querySelector('[data-action="accept"]')?.getAttribute("aria-label")).toBe("Accept video call from Bob Chen");
  });

  it("group: who else is in it", () => {
    const el = mount(renderIncoming({ call: call(fixtures.incomingGroup(NOW)), compact: true, busy: null }));
    expect(text(el.querySelector(".incoming-sub"))).toBe("Incoming video call · with carol and dan");
  });

  it("accepting (working): both buttons locked, Connecting…", () => {
    const el = mount(renderIncoming({ call: call(fixtures.incomingAccepting(NOW)), compact: true, busy: null }));
    expect(el.querySelector<HTMLButtonElement>('[data-action="accept"]')?.disabled).toBe(true);
    expect(el.querySelector<HTMLButtonElement>('[data-action="decline"]')?.disabled).toBe(true);
    expect(text(el.querySelector(".incoming-status"))).toBe("Connecting…");
    expect(el.querySelector('[data-page="incoming"]')?.getAttribute("data-state")).toBe("accepting");
  });

  it("the popup window shows only the incoming call, no top bar", () => {
    const m = model({ settings: SETTINGS, snapshot: fixtures.incoming(NOW) });
    const el = mount(renderWindow(m, "popup", NOW));
    expect(el.querySelector(".topbar")).toBeNull();
    expect(el.querySelector('[data-page="incoming"]')).not.toBeNull();
    // Between calls (hidden, or while the next call is drawn) it says nothing at all.
    const idle = mount(renderWindow(model({ settings: SETTINGS, snapshot: snapshot() }), "popup", NOW));
    expect(text(idle)).toBe("");
    expect(idle.querySelector('[data-page="incoming-idle"]')).not.toBeNull();
  });

  it("escapes names the server relays, on the call pages too", () => {
    const evil = '<img src=x onerror="alert(1)">';
    const c = call(fixtures.incomingGroup(NOW));
    c.callerName = evil;
    c.peers = c.peers.map((p) => ({ ...p, name: evil }));
    for (const el of [
      mount(renderIncoming({ call: c, compact: false, busy: null })),
      mount(renderCalling({ selfId: "alice", call: c, inviteText: evil, inviteError: evil, busy: null, now: NOW })),
      mount(renderWaiting({ call: c, busy: null, now: NOW })),
    ]) {
      expect(el.querySelector("img")).toBeNull();
      expect(text(el)).toContain(evil);
    }
  });

  it("the main window has its own full incoming page", () => {
    const m = model({ settings: SETTINGS, snapshot: fixtures.incomingVideo(NOW) });
    expect(pageFor(m, "main")).toBe("incoming");
    const el = mount(renderWindow(m, "main", NOW));
    expect(el.querySelector(".incoming.stage")).not.toBeNull();
    expect(text(el.querySelector(".kbd-hint"))).toBe("Esc declines");
  });
});
