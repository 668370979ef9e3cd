// The in-call page's group grid, per-person badges (speaking, muted, connection trouble,
// quality), the held-back camera, screen sharing and the devices selects, as rendered
// from a MediaView.
import { render } from "lit-html";
import { beforeAll, describe, expect, it } from "vitest";
import { fixtures, groupCall, mediaView, peerView } from "../src/fixtures";
import type { Devices, MediaView, PeerView, Quality } from "../src/media/controller";
import { gridShape } from "../src/pages/call-grid";
import { renderCalling } from "../src/pages/calling";
import { NO_NAMES_YET, NO_SPEAKER_CHOICE } from "../src/pages/devices";
import { HELD_BACK, mediaStatus, qualityNumbers } from "../src/pages/media-parts";
import { draftFrom, renderSettings } from "../src/pages/settings";
import { DEFAULT_SOUND_PREFS } from "../src/sounds";
import type { Snapshot } from "../src/types";
import { FakeStream, FakeTrack } from "./fake-webrtc";
import { mount, NOW, stubMediaElements, text } from "./helpers";

beforeAll(stubMediaElements);

const stream = (...kinds: ("audio" | "video")[]) => new FakeStream(kinds.map((k) => new FakeTrack(k))) as unknown as MediaStream;
const WEAK: Quality = { level: "weak", rttMs: 312.4, lossPct: 4.83, inKbps: 420.2 };
const GOOD: Quality = { level: "good", rttMs: 38, lossPct: 0.2, inKbps: 1450 };

const IDS = ["bob", "carol", "dan", "erin", "frank", "gus", "hana", "ivan", "judy"];

/** A group call with `others` accepted members, each given `over[id]`. */
function group(others: number, over: Record<string, Partial<PeerView>> = {}, view: Partial<MediaView> = {}, callType: "voice" | "video" = "video") {
  const snap = groupCall(NOW, others, callType);
  const peers = IDS.slice(0, others).map((id) => peerView(id, stream("audio", "video"), { hasVideo: callType === "video", ...over[id] }));
  return { snap, media: mediaView({ local: stream("audio", "video"), cameraOn: callType === "video", peers, ...view }) };
}

function calling(snap: Snapshot, media: MediaView | null, extra: { devicesOpen?: boolean } = {}): HTMLElement {
  return mount(renderCalling({ selfId: "alice", selfName: "Alice Martin", call: snap.call!, inviteText: "", inviteError: null, busy: null, now: NOW, media, ...extra }));
}

describe("group grid", () => {
  it("2-4 people in 2 columns, 5-9 in 3, 10 in 4; rows as many as needed", () => {
    expect(gridShape(2)).toEqual({ cols: 2, rows: 1 });
    expect(gridShape(3)).toEqual({ cols: 2, rows: 2 });
    expect(gridShape(4)).toEqual({ cols: 2, rows: 2 });
    expect(gridShape(5)).toEqual({ cols: 3, rows: 2 });
    expect(gridShape(9)).toEqual({ cols: 3, rows: 3 });
    expect(gridShape(10)).toEqual({ cols: 4, rows: 3 });
  });

  it.each([
    [1, "grid-c2", "grid-r1"],
    [3, "grid-c2", "grid-r2"],
    [4, "grid-c3", "grid-r2"],
    [8, "grid-c3", "grid-r3"],
    [9, "grid-c4", "grid-r3"],
  ])("%i others and you: one tile each, classes %s %s", (others, cols, rows) => {
    const { snap, media } = group(others);
    const el = calling(snap, media);
    const grid = el.querySelector(".tiles-grid");
    expect(grid?.classList.contains(cols)).toBe(true);
    expect(grid?.classList.contains(rows)).toBe(true);
    expect(grid?.querySelectorAll(".tile")).toHaveLength(others + 1);
    expect(grid?.querySelector("[data-self] video[data-local-video]")).not.toBeNull();
    for (const id of IDS.slice(0, others)) expect(grid?.querySelector(`.tile[data-user="${id}"] video[data-remote-video="${id}"]`)).not.toBeNull();
    expect(el.querySelector("main")?.classList.contains("stage-grid")).toBe(true);
    // Still a call page the e2e tests find their way around.
    expect(el.querySelector('[data-page="calling"] [data-action="leave"]')).not.toBeNull();
    expect(el.querySelectorAll("audio[data-remote-audio]")).toHaveLength(others);
  });

  it("a 1:1 call keeps the big picture with your pip, not a grid", () => {
    const media = mediaView({ local: stream("video"), cameraOn: true, peers: [peerView("bob", stream("audio", "video"), { hasVideo: true })] });
    const el = calling(fixtures.calling(NOW), media);
    expect(el.querySelector(".tiles-grid")).toBeNull();
    expect(el.querySelector(".tile-local[data-action=swap-video]")).not.toBeNull();
  });

  it("a group voice call: a tile each with the avatar, no picture shown", () => {
    const { snap, media } = group(3, {}, {}, "voice");
    const el = calling(snap, media);
    expect(el.querySelectorAll(".tiles-grid .tile")).toHaveLength(4);
    expect(el.querySelectorAll(".tiles-grid .tile-avatar .avatar")).toHaveLength(4);
    expect(Array.from(el.querySelectorAll<HTMLVideoElement>(".tiles-grid video")).every((v) => v.hidden)).toBe(true);
    expect(text(el.querySelector("[data-self] .tile-avatar"))).toBe("AM");
  });

  it("the speaker is marked by a ring class, data-speaking and words, on their tile only", () => {
    const { snap, media } = group(3, {}, { speaking: "carol" });
    const el = calling(snap, media);
    expect(Array.from(el.querySelectorAll("[data-speaking]")).map((t) => t.getAttribute("data-user"))).toEqual(["carol"]);
    const carol = el.querySelector('.tile[data-user="carol"]');
    expect(carol?.classList.contains("tile-speaking")).toBe(true);
    expect(text(carol?.querySelector(".tile-caption"))).toContain("speaking");
    const you = calling(snap, { ...media, speaking: "alice" });
    expect(you.querySelector("[data-self]")?.hasAttribute("data-speaking")).toBe(true);
    expect(you.querySelectorAll("[data-speaking]")).toHaveLength(1);
  });

  it("muted people, and trouble in words: reconnecting, or failed and retried", () => {
    const { snap, media } = group(3, { bob: { remoteSending: { audio: false, video: true } }, carol: { health: "reconnecting" }, dan: { health: "failed" } });
    const el = calling(snap, media);
    const tile = (id: string) => el.querySelector(`.tile[data-user="${id}"]`);
    expect(text(tile("bob")?.querySelector(".tile-muted"))).toBe("Bob Chen is muted");
    expect(tile("carol")?.querySelector(".tile-muted")).toBeNull();
    expect(text(tile("carol")?.querySelector(".tile-trouble-note"))).toBe("Reconnecting…");
    expect(text(tile("dan")?.querySelector(".tile-trouble-note"))).toBe("Can't connect — retrying");
    expect(tile("bob")?.querySelector(".tile-trouble-note")).toBeNull();
    // One member's trouble is theirs: the call itself is up.
    expect(el.querySelector("main")?.dataset.media).toBe("connected");
    expect(mediaStatus(media)).toBeNull();
    const muted = calling(snap, { ...media, micOn: false });
    expect(text(muted.querySelector("[data-self] .tile-muted"))).toBe("You're muted");
  });

  it("a level bar for each voice, as a scale of its fill", () => {
    const { snap, media } = group(1, { bob: { level: 0.5 } }, { localLevel: 0.25 });
    const el = calling(snap, media);
    expect(el.querySelector<HTMLElement>('.tile[data-user="bob"] .tile-level-fill')?.style.transform).toBe("scaleX(0.50)");
    expect(el.querySelector<HTMLElement>("[data-self] .tile-level-fill")?.style.transform).toBe("scaleX(0.25)");
  });

  it("the video elements survive re-renders as people join, talk and drop", () => {
    const el = document.createElement("div");
    const draw = (others: number, view: Partial<MediaView> = {}) => {
      const { snap, media } = group(others, {}, view);
      render(renderCalling({ selfId: "alice", call: snap.call!, inviteText: "", inviteError: null, busy: null, now: NOW, media }), el);
    };
    draw(2);
    const bob = el.querySelector('video[data-remote-video="bob"]');
    const local = el.querySelector("video[data-local-video]");
    draw(5, { speaking: "bob" });
    draw(3);
    expect(el.querySelector('video[data-remote-video="bob"]')).toBe(bob);
    expect(el.querySelector("video[data-local-video]")).toBe(local);
  });
});

describe("connection quality", () => {
  it("a tooltip with the numbers, rounded", () => {
    expect(qualityNumbers(WEAK)).toBe("Round trip 312 ms · 4.8 % lost · 420 kbps in");
    expect(qualityNumbers({ level: "good", rttMs: null, lossPct: null, inKbps: null })).toBe("No measurements yet");
  });

  it("1:1: the word for the one peer; none before it is measured", () => {
    const voice = (q: Quality | null) => calling(fixtures.callingVoice(NOW), mediaView({ peers: [peerView("bob", stream("audio"), { quality: q })] }));
    const weak = voice(WEAK).querySelector(".quality");
    expect(text(weak)).toBe("Weak connection");
    expect(weak?.getAttribute("title")).toBe("Weak connection: Round trip 312 ms · 4.8 % lost · 420 kbps in");
    expect(text(voice(GOOD).querySelector(".quality"))).toBe("Good connection");
    expect(voice(null).querySelector(".quality")).toBeNull();
    const video = calling(fixtures.calling(NOW), mediaView({ peers: [peerView("bob", stream("audio", "video"), { hasVideo: true, quality: { ...WEAK, level: "poor" } })] }));
    expect(text(video.querySelector('.tile[data-user="bob"] .quality'))).toBe("Poor connection");
  });

  it("group: per tile; a good one keeps its word for screen readers, weak and poor show it", () => {
    const { snap, media } = group(2, { bob: { quality: GOOD }, carol: { quality: WEAK } });
    const el = calling(snap, media);
    const bob = el.querySelector('.tile[data-user="bob"] .quality');
    expect(bob?.getAttribute("data-quality")).toBe("good");
    expect(bob?.querySelector(".sr-only")?.textContent).toBe("Good connection");
    const carol = el.querySelector('.tile[data-user="carol"] .quality');
    expect(carol?.querySelector(".quality-word")?.textContent).toBe("Weak connection");
    expect(carol?.querySelectorAll("rect.on")).toHaveLength(2);
  });
});

describe("held-back camera", () => {
  it("says why in plain words and disables the camera toggle with that reason", () => {
    const { snap, media } = group(4, {}, { cameraOn: false, videoHeldBack: true });
    const el = calling(snap, media);
    expect(text(el.querySelector("#held-back"))).toBe(HELD_BACK);
    const camera = el.querySelector<HTMLButtonElement>('[data-action="camera"]');
    expect(camera?.disabled).toBe(true);
    expect(camera?.title).toBe(HELD_BACK);
    expect(camera?.getAttribute("aria-describedby")).toBe("held-back");
    const free = calling(snap, { ...media, videoHeldBack: false });
    expect(free.querySelector("#held-back")).toBeNull();
    expect(free.querySelector<HTMLButtonElement>('[data-action="camera"]')?.disabled).toBe(false);
  });
});

describe("screen sharing", () => {
  it("a toggle among the controls when the engine can share, pressed while sharing, with a Stop note", () => {
    const snap = fixtures.calling(NOW);
    const base = mediaView({ peers: [peerView("bob", stream("audio"))] });
    const off = calling(snap, base);
    const share = off.querySelector<HTMLButtonElement>('.controls [data-action="share-screen"]');
    expect(share?.getAttribute("aria-pressed")).toBe("false");
    expect(share?.title).toBe("Share your screen (Ctrl+Shift+E)");
    expect(off.querySelector(".media-note")).toBeNull();
    const on = calling(snap, { ...base, sharing: true });
    expect(on.querySelector('.controls [data-action="share-screen"]')?.getAttribute("aria-pressed")).toBe("true");
    const note = on.querySelector(".media-note");
    expect(text(note?.querySelector("span:not(.media-note-dot)"))).toBe("You're sharing your screen");
    expect(note?.querySelector('button[data-action="share-screen"]')).not.toBeNull();
    // Your shared screen isn't mirrored like your camera.
    expect(on.querySelector("video[data-local-video]")?.classList.contains("tile-mirror")).toBe(false);
    expect(calling(snap, { ...base, canShare: false }).querySelector('[data-action="share-screen"]')).toBeNull();
  });
});

const DEVICES: Devices = {
  microphone: [
    { deviceId: "mic-1", label: "Built-in Microphone" },
    { deviceId: "mic-2", label: "USB Headset" },
  ],
  camera: [{ deviceId: "cam-1", label: "FaceTime HD Camera" }],
  speaker: [{ deviceId: "spk-1", label: "Built-in Speakers" }],
  chosen: { microphone: "mic-2", camera: null, speaker: null },
  canChooseSpeaker: true,
};

function settings(media: MediaView | null): HTMLElement {
  return mount(
    renderSettings({ mode: "edit", draft: draftFrom(null), saving: false, error: null, errorField: null, notSignedIn: false, canCancel: true, sounds: DEFAULT_SOUND_PREFS, previewing: false, media }),
  );
}

describe("devices", () => {
  it("settings: a labelled select per kind, System default first, the choice selected", () => {
    const el = settings(mediaView({ devices: DEVICES }));
    const card = el.querySelector(".devices-card");
    expect(text(card?.querySelector("h2"))).toBe("Devices");
    const select = (kind: string) => card?.querySelector<HTMLSelectElement>(`select[data-device="${kind}"]`);
    for (const kind of ["microphone", "camera", "speaker"]) {
      const s = select(kind)!;
      expect(card?.querySelector(`label[for="${s.id}"]`)).not.toBeNull();
      expect(s.options[0]?.value).toBe("");
      expect(s.options[0]?.textContent).toBe("System default");
    }
    expect(Array.from(select("microphone")!.options).map((o) => o.textContent)).toEqual(["System default", "Built-in Microphone", "USB Headset"]);
    expect(select("microphone")?.value).toBe("mic-2");
    expect(select("camera")?.value).toBe("");
    expect(select("speaker")?.disabled).toBe(false);
    expect(card?.textContent).not.toContain(NO_NAMES_YET);
  });

  it("settings: the speaker can't be chosen everywhere, and names wait for the first permission", () => {
    const fixed = settings(mediaView({ devices: { ...DEVICES, canChooseSpeaker: false } }));
    const speaker = fixed.querySelector<HTMLSelectElement>('select[data-device="speaker"]');
    expect(speaker?.disabled).toBe(true);
    expect(text(fixed.querySelector(`#${speaker?.getAttribute("aria-describedby")}`))).toBe(NO_SPEAKER_CHOICE);
    const unnamed = settings(mediaView());
    expect(text(unnamed.querySelector(".device-unnamed"))).toBe(NO_NAMES_YET);
    expect(unnamed.querySelectorAll("select[data-device]")).toHaveLength(3);
  });

  it("settings: no card in a window without media", () => {
    expect(settings(null).querySelector(".devices-card")).toBeNull();
    expect(settings(mediaView({ supported: false })).querySelector(".devices-card")).toBeNull();
  });

  it("a chosen device that is unplugged stays listed as chosen", () => {
    const el = settings(mediaView({ devices: { ...DEVICES, chosen: { ...DEVICES.chosen, camera: "gone" } } }));
    const camera = el.querySelector<HTMLSelectElement>('select[data-device="camera"]');
    expect(camera?.value).toBe("gone");
    expect(camera?.selectedOptions[0]?.textContent).toBe("Chosen device (not connected)");
  });

  it("in a call: a Devices button, and the popover with the same selects when open", () => {
    const media = mediaView({ devices: DEVICES, peers: [peerView("bob", stream("audio"))] });
    const closed = calling(fixtures.callingVoice(NOW), media);
    expect(closed.querySelector('[data-action="devices"]')?.getAttribute("aria-expanded")).toBe("false");
    expect(closed.querySelector(".devices-pop")).toBeNull();
    const open = calling(fixtures.callingVoice(NOW), media, { devicesOpen: true });
    expect(open.querySelector('[data-action="devices"]')?.getAttribute("aria-expanded")).toBe("true");
    const pop = open.querySelector(".devices-pop");
    expect(pop?.getAttribute("role")).toBe("dialog");
    expect(pop?.querySelectorAll("select[data-device]")).toHaveLength(3);
    expect(pop?.querySelector<HTMLSelectElement>('select[data-device="microphone"]')?.value).toBe("mic-2");
  });
});

describe("a voice call with a shared screen", () => {
  it("shows the other side's screen as a picture once it arrives, and goes back to the avatar when it stops", () => {
    const snap = fixtures.callingVoice(NOW);
    const bob = snap.call!.peers[0]!.userId;
    const sharing = calling(snap, mediaView({ local: stream("audio"), peers: [peerView(bob, stream("audio", "video"), { hasVideo: true, remoteSending: { audio: true, video: true } })] }));
    expect(sharing.querySelector(`video[data-remote-video="${bob}"]`)?.hasAttribute("hidden")).toBe(false);
    expect(sharing.querySelector(`video[data-remote-video="${bob}"]`)?.classList.contains("tile-screen")).toBe(false);
    const screen = calling(snap, mediaView({ peers: [peerView(bob, stream("audio", "video"), { hasVideo: true, remoteSending: { audio: true, video: true, screen: true } })] }));
    expect(screen.querySelector(`video[data-remote-video="${bob}"]`)?.classList.contains("tile-screen")).toBe(true);
    const stopped = calling(snap, mediaView({ local: stream("audio"), peers: [peerView(bob, stream("audio"))] }));
    expect(stopped.querySelector(`video[data-remote-video="${bob}"]:not([hidden])`)).toBeNull();
  });

  it("sends the call's sound to the chosen speaker while it is plugged in, else to the default", () => {
    const sinks: string[] = [];
    const proto = HTMLMediaElement.prototype as unknown as { setSinkId?: (id: string) => Promise<void> };
    const before = proto.setSinkId;
    proto.setSinkId = async function (this: HTMLMediaElement & { sinkId?: string }, id: string) {
      this.sinkId = id;
      sinks.push(id);
    };
    try {
      const snap = fixtures.callingVoice(NOW);
      const bob = snap.call!.peers[0]!.userId;
      const devices: Devices = { microphone: [], camera: [], speaker: [{ deviceId: "out-2", label: "Headset" }], chosen: { microphone: null, camera: null, speaker: "out-2" }, canChooseSpeaker: true };
      calling(snap, mediaView({ peers: [peerView(bob, stream("audio"))], devices }));
      calling(snap, mediaView({ peers: [peerView(bob, stream("audio"))], devices: { ...devices, speaker: [] } }));
      expect(sinks).toEqual(["out-2", ""]);
    } finally {
      proto.setSinkId = before;
    }
  });
});
