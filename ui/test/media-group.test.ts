// Group calls and the in-call controls of the media module, on fake WebRTC: a mesh of
// members, one connection failing without ending the call, the camera cap, device choice
// and hot-plug, screen sharing, and the quality/speaker arithmetic.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeviceList, DEVICES_KEY } from "../src/media/devices";
import { judge, PeerSamples, quality, receiverLevel, SAMPLE_EVERY_MS, SpeakerTracker, totals, type Totals } from "../src/media/quality";
import { member, outgoingCall, snapshot, incomingCall } from "../src/fixtures";
import type { CallType, Member, Snapshot } from "../src/types";
import { FakeDevices, fakeEnv, fakePc, FakePC, type FakeTrack } from "./fake-webrtc";
import { CALL_ID, connectedPair, mesh, resetFakes, settle, settleFake, side, type Side } from "./media-harness";
import { NOW } from "./helpers";

beforeEach(resetFakes);
afterEach(() => vi.useRealTimers());

const NAMES: Record<string, string> = { alice: "Alice Martin", bob: "Bob Stone", carol: "Carol Reyes", dave: "Dave Okafor", erin: "Erin Wu" };

/** `me`'s snapshot of alice's group call in which `accepted` are in and `ringing` still ring. */
function groupSnap(me: string, accepted: string[], ringing: string[] = [], callType: CallType = "voice"): Snapshot {
  const others: Member[] = [
    ...accepted.filter((u) => u !== me).map((u) => member(u, NAMES[u]!, "accepted")),
    ...ringing.filter((u) => u !== me).map((u) => member(u, NAMES[u]!, "received")),
  ];
  const inCall = accepted.includes(me);
  const base = me === "alice" ? outgoingCall(NOW, others) : incomingCall(NOW, { peers: others });
  return snapshot({
    userId: me,
    userName: NAMES[me]!,
    phase: inCall ? "inCall" : me === "alice" ? "outgoing" : "incoming",
    call: { ...base, callId: CALL_ID, callerId: "alice", callerName: NAMES.alice!, callType, group: true, startedAt: inCall ? NOW : null },
  });
}

const peersOf = (s: Side) => (s.media as unknown as { peers: Map<string, { pc: RTCPeerConnection }> }).peers;
const pcTo = (s: Side, user: string): FakePC => fakePc(peersOf(s).get(user)!.pc);

async function groupCall(users: string[], callType: CallType = "voice", settleFn = settle, timing = {}) {
  const sides = users.map((u) => side(u, { timing }));
  mesh(sides);
  for (const s of sides) s.media.sync(groupSnap(s.userId, users, [], callType));
  await settleFn();
  return sides;
}

describe("group calls", () => {
  it("every member connects to every other one, and a member joining later adds exactly its connections", async () => {
    const sides = await groupCall(["alice", "bob", "carol"]);
    for (const s of sides) {
      const v = s.media.view();
      expect(v.peers.map((p) => p.userId).sort()).toEqual(["alice", "bob", "carol"].filter((u) => u !== s.userId));
      expect(v.peers.every((p) => p.health === "connected")).toBe(true);
    }
    const before = FakePC.all.length;
    const dave = side("dave");
    const all = [...sides, dave];
    mesh(all);
    for (const s of all) s.media.sync(groupSnap(s.userId, ["alice", "bob", "carol", "dave"]));
    await settle();
    // Three new connections on the old members' side and three on dave's; none closed.
    expect(FakePC.all.length - before).toBe(6);
    expect(FakePC.all.filter((p) => p.closed)).toHaveLength(0);
    for (const s of all) expect(s.media.view().peers.filter((p) => p.health === "connected")).toHaveLength(3);
  });

  it("a member leaving closes exactly the connections to that member", async () => {
    const sides = await groupCall(["alice", "bob", "carol", "dave"]);
    const toCarol = sides.filter((s) => s.userId !== "carol").map((s) => pcTo(s, "carol"));
    const rest = FakePC.all.filter((p) => !toCarol.includes(p) && !peersOfCarol(sides).includes(p));
    for (const s of sides) s.media.sync(s.userId === "carol" ? null : groupSnap(s.userId, ["alice", "bob", "dave"]));
    await settle();
    expect(toCarol.every((p) => p.closed)).toBe(true);
    expect(peersOfCarol(sides).every((p) => p.closed)).toBe(true);
    expect(rest.every((p) => !p.closed)).toBe(true);
    expect(rest).toHaveLength(6);
  });

  it("one connection failing in a group call ends nothing: its tile says so, it keeps trying, and comes back", async () => {
    vi.useFakeTimers();
    const timing = { reconnectTimeoutMs: 15_000, iceRestartEveryMs: 5_000 };
    const sides = await groupCall(["alice", "bob", "carol"], "voice", settleFake, timing);
    const [alice, bob] = sides as [Side, Side, Side];
    const ab = pcTo(alice, "bob");
    const ba = pcTo(bob, "alice");
    ab.setState("failed");
    ba.setState("failed");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(alice.api.mediaFailed).not.toHaveBeenCalled();
    expect(bob.api.mediaFailed).not.toHaveBeenCalled();
    const v = alice.media.view();
    expect(v.peers.find((p) => p.userId === "bob")?.health).toBe("failed");
    expect(v.peers.find((p) => p.userId === "carol")?.health).toBe("connected");
    expect((await alice.media.stats()).failedPeers).toEqual(["bob"]);
    // The same connection on both sides, and the impolite side (alice, the caller) goes on
    // restarting ICE; nothing is reported twice.
    const restarts = ab.restarts;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ab.restarts).toBeGreaterThan(restarts);
    expect(pcTo(alice, "bob")).toBe(ab);
    expect(ab.closed).toBe(false);
    expect(alice.logs.filter((l) => l.includes("the call goes on")).length).toBe(1);
    ab.setState("connected");
    ba.setState("connected");
    expect(alice.media.view().peers.find((p) => p.userId === "bob")?.health).toBe("connected");
    expect((await alice.media.stats()).failedPeers).toEqual([]);
  });

  it("the same failure in a 1:1 call ends it: there is nobody else to talk to", async () => {
    vi.useFakeTimers();
    const { alice } = await connectedPair("voice", settleFake, { reconnectTimeoutMs: 15_000 });
    pcTo(alice, "bob").setState("failed");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(alice.api.mediaFailed).toHaveBeenCalledWith(CALL_ID, "connectionLost");
  });
});

function peersOfCarol(sides: Side[]): FakePC[] {
  const carol = sides.find((s) => s.userId === "carol")!;
  return Array.from(peersOf(carol).values(), (p) => fakePc(p.pc));
}

describe("the camera cap", () => {
  it("a fifth member joining a video call that carries four cameras starts with the camera off, and says why", async () => {
    const first = ["alice", "bob", "carol", "dave"];
    const sides = await groupCall(first, "video");
    const erin = side("erin");
    const all = [...sides, erin];
    mesh(all);
    for (const s of all) s.media.sync(groupSnap(s.userId, [...first, "erin"], [], "video"));
    await settle();
    expect(erin.devices.requests[0]).toMatchObject({ audio: true });
    expect(erin.devices.requests[0]?.video).toBeUndefined();
    const v = erin.media.view();
    expect(v.cameraOn).toBe(false);
    expect(v.videoHeldBack).toBe(true);
    // Erin still receives everyone's video.
    expect(v.peers.every((p) => p.hasVideo)).toBe(true);
    await erin.media.toggleCamera();
    expect(erin.media.view().cameraOn).toBe(false);
    // One camera goes off: erin may turn hers on.
    await sides[1]!.media.toggleCamera();
    await settle();
    expect(erin.media.view().videoHeldBack).toBe(false);
    await erin.media.toggleCamera();
    await settle();
    expect(erin.media.view().cameraOn).toBe(true);
  });

  it("five cameras turned on at once: every side agrees on the same four (the caller, then by user ID)", async () => {
    const users = ["alice", "bob", "carol", "dave", "erin"];
    const sides = users.map((u) => side(u));
    mesh(sides);
    // Everyone accepted before seeing anyone else in the call: all five capture a camera.
    for (const s of sides) s.media.sync(groupSnap(s.userId, s.userId === "alice" ? ["alice"] : ["alice", s.userId], users, "video"));
    await settle();
    for (const s of sides) s.media.sync(groupSnap(s.userId, users, [], "video"));
    await settle(80);
    const on = sides.filter((s) => s.media.view().cameraOn).map((s) => s.userId);
    expect(on).toEqual(["alice", "bob", "carol", "dave"]);
    expect(sides[4]!.media.view().videoHeldBack).toBe(true);
  });
});

describe("devices", () => {
  const plugged = () => [
    { kind: "audioinput" as const, deviceId: "default", label: "Default" },
    { kind: "audioinput" as const, deviceId: "mic-1", label: "Built-in Microphone" },
    { kind: "audioinput" as const, deviceId: "mic-2", label: "USB Headset" },
    { kind: "videoinput" as const, deviceId: "cam-1", label: "FaceTime HD" },
    { kind: "audiooutput" as const, deviceId: "out-1", label: "Speakers" },
  ];

  it("lists what is plugged in without the engine's pseudo-devices, and keeps the choice", async () => {
    const devices = new FakeDevices();
    devices.plugged = plugged();
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    const list = new DeviceList(fakeEnv(devices), storage, () => undefined);
    await list.refresh();
    const v = list.view(true);
    expect(v.microphone.map((d) => d.label)).toEqual(["Built-in Microphone", "USB Headset"]);
    expect(v.camera).toHaveLength(1);
    list.choose("microphone", "mic-2");
    expect(JSON.parse(store.get(DEVICES_KEY)!)).toMatchObject({ microphone: "mic-2" });
    const again = new DeviceList(fakeEnv(devices), storage, () => undefined);
    await again.refresh();
    expect(again.constraint("microphone")).toEqual({ deviceId: { exact: "mic-2" } });
    // Unplugged: the system default, not a failed capture.
    devices.plugged = devices.plugged.filter((d) => d.deviceId !== "mic-2");
    await again.refresh();
    expect(again.constraint("microphone")).toBe(true);
  });

  it("another microphone mid-call: the new track goes out on the same sender, mute holds, the old one stops", async () => {
    const devices = new FakeDevices();
    devices.plugged = plugged();
    const alice = side("alice", { devices });
    const bob = side("bob");
    mesh([alice, bob]);
    alice.media.sync(groupSnap("alice", ["alice"], ["bob"]));
    bob.media.sync(groupSnap("bob", ["bob"], ["alice"]));
    await settle();
    for (const s of [alice, bob]) s.media.sync(groupSnap(s.userId, ["alice", "bob"]));
    await settle();
    const pc = pcTo(alice, "bob");
    const sender = pc.transceivers.find((t) => t.kind === "audio")!.sender;
    const old = sender.track!;
    alice.media.toggleMute();
    const offers = pc.offersMade.length;
    await alice.media.chooseDevice("microphone", "mic-2");
    const now = sender.track!;
    expect(now).not.toBe(old);
    expect(now.label).toBe("USB Headset");
    expect(now.enabled).toBe(false);
    expect(old.readyState).toBe("ended");
    expect(pc.offersMade.length).toBe(offers);
    expect((await alice.media.stats()).devices.chosen.microphone).toBe("mic-2");
  });

  it("the chosen headset unplugged mid-call: the default microphone takes over; plugged back: the headset again", async () => {
    const devices = new FakeDevices();
    devices.plugged = plugged();
    const alice = side("alice", { devices });
    await alice.media.chooseDevice("microphone", "mic-2");
    const bob = side("bob");
    mesh([alice, bob]);
    for (const s of [alice, bob]) s.media.sync(groupSnap(s.userId, ["alice", "bob"]));
    await settle();
    const sender = pcTo(alice, "bob").transceivers.find((t) => t.kind === "audio")!.sender;
    expect(sender.track?.label).toBe("USB Headset");
    const headset = sender.track!;
    devices.plugged = devices.plugged.filter((d) => d.deviceId !== "mic-2");
    headset.stop();
    devices.changed();
    await settle();
    expect(sender.track?.label).toBe("Fake microphone");
    devices.plugged = plugged();
    devices.changed();
    await settle();
    expect(sender.track?.label).toBe("USB Headset");
    expect(alice.media.view().devices.microphone.map((d) => d.label)).toContain("USB Headset");
  });
});

describe("screen sharing", () => {
  it("replaces the camera on every sender and brings the camera back when it stops", async () => {
    const { alice, bob } = await connectedPair("video");
    const pc = pcTo(alice, "bob");
    const video = pc.transceivers.find((t) => t.kind === "video")!.sender;
    const camera = video.track;
    await alice.media.toggleScreenShare();
    expect(video.track?.label).toBe("screen:0:0");
    expect(alice.media.view().sharing).toBe(true);
    // Your preview shows what you send; the other side is told it is a screen.
    expect(alice.media.view().local?.getVideoTracks()[0]?.label).toBe("screen:0:0");
    await settle();
    expect(bob.media.view().peers[0]?.remoteSending).toEqual({ audio: true, video: true, screen: true });
    await alice.media.toggleScreenShare();
    expect(video.track).toBe(camera);
    expect(alice.devices.screens[0]?.readyState).toBe("ended");
    expect(alice.media.view().sharing).toBe(false);
    expect(alice.media.view().local?.getVideoTracks()[0]).toBe(camera);
    await settle();
    expect(bob.media.view().peers[0]?.remoteSending).toEqual({ audio: true, video: true });
  });

  it("the screen flag is optional and checked", async () => {
    const { parsePayload } = await import("../src/media/payload");
    expect(parsePayload({ v: 1, sending: { audio: true, video: true, screen: true } })).toEqual({ v: 1, sending: { audio: true, video: true, screen: true } });
    expect(parsePayload({ v: 1, sending: { audio: true, video: false } })).toEqual({ v: 1, sending: { audio: true, video: false } });
    expect(parsePayload({ v: 1, sending: { audio: true, video: true, screen: "yes" } })).toEqual({ error: "bad sending" });
  });

  it("in a voice call adds a video sender (the other side then receives it), and the browser's own Stop ends it", async () => {
    const { alice, bob } = await connectedPair("voice");
    await alice.media.toggleScreenShare();
    await settle();
    expect(bob.media.view().peers[0]?.stream.getVideoTracks()).toHaveLength(1);
    expect(bob.media.view().peers[0]?.remoteSending?.video).toBe(true);
    const screen = alice.devices.screens[0] as FakeTrack;
    screen.stop();
    screen.dispatchEvent(new Event("ended"));
    await settle();
    expect(alice.media.view().sharing).toBe(false);
    expect(bob.media.view().peers[0]?.remoteSending?.video).toBe(false);
  });

  it("a refused share changes nothing", async () => {
    const { alice } = await connectedPair("video");
    alice.devices.refuseScreen = true;
    await alice.media.toggleScreenShare();
    expect(alice.media.view().sharing).toBe(false);
    expect(alice.media.view().cameraOn).toBe(true);
  });
});

describe("quality and the speaker", () => {
  const t = (at: number, over: Partial<Totals> = {}): Totals => ({
    at,
    audioLevel: null,
    localLevel: null,
    received: 0,
    lost: 0,
    bytesReceived: 0,
    remoteFractionLost: null,
    rttMs: null,
    ...over,
  });

  it("judges loss and round trip in plain words", () => {
    expect(judge(0, 40)).toBe("good");
    expect(judge(3, 40)).toBe("weak");
    expect(judge(0, 350)).toBe("weak");
    expect(judge(12, 40)).toBe("poor");
    expect(judge(null, 900)).toBe("poor");
    expect(judge(null, null)).toBe("good");
  });

  it("counts loss over the window in both directions and the bitrate received", () => {
    const q = quality(t(0, { received: 1000, lost: 0, bytesReceived: 0 }), t(2000, { received: 1095, lost: 5, bytesReceived: 25_000, rttMs: 80 }));
    expect(q).toEqual({ level: "weak", rttMs: 80, lossPct: 5, inKbps: 100 });
    const out = quality(t(0), t(1000, { remoteFractionLost: 0.1 }));
    expect(out.level).toBe("poor");
    expect(out.lossPct).toBe(10);
  });

  it("reads the engine's reports", () => {
    const got = totals(
      [
        { id: "a", type: "inbound-rtp", kind: "audio", packetsReceived: 500, packetsLost: 3, bytesReceived: 9000, audioLevel: 0.3 },
        { id: "v", type: "inbound-rtp", kind: "video", packetsReceived: 100, packetsLost: 1, bytesReceived: 90_000 },
        { id: "s", type: "media-source", kind: "audio", audioLevel: 0.12 },
        { id: "r", type: "remote-inbound-rtp", kind: "audio", fractionLost: 0.005, roundTripTime: 0.09 },
        { id: "T", type: "transport", selectedCandidatePairId: "P" },
        { id: "P", type: "candidate-pair", currentRoundTripTime: 0.05 },
      ],
      7,
    );
    expect(got).toEqual({ at: 7, audioLevel: 0.3, localLevel: 0.12, received: 600, lost: 4, bytesReceived: 99_000, remoteFractionLost: 0.005, rttMs: 50 });
    const samples = new PeerSamples();
    samples.add({ ...got, at: 0 });
    samples.add({ ...got, at: 1000, received: 700 });
    expect(samples.level).toBe(0.3);
    expect(samples.quality?.level).toBe("good");
  });

  it("levels come from the receivers' synchronization sources where the engine has them", () => {
    const receiver = (kind: string, levels: number[]) => ({ track: { kind }, getSynchronizationSources: () => levels.map((audioLevel) => ({ audioLevel })) });
    const pc = { getReceivers: () => [receiver("audio", [0.1, 0.4]), receiver("video", [0.9])] } as unknown as RTCPeerConnection;
    expect(receiverLevel(pc)).toBe(0.4);
    expect(receiverLevel({} as RTCPeerConnection)).toBeNull();
  });

  it("a call shows each peer's level and quality, and who speaks, from the connection's stats", async () => {
    const { alice } = await connectedPair("voice");
    await vi.waitFor(() => expect(alice.media.view().peers[0]?.level).toBe(0.2), { timeout: SAMPLE_EVERY_MS * 5 });
    expect(alice.media.view().speaking).toBe("bob");
    expect((await alice.media.stats()).speaking).toBe("bob");
  });

  it("the loudest talker is the speaker, kept through a short pause, handed over when someone else talks", () => {
    const sp = new SpeakerTracker();
    expect(sp.update(new Map([["bob", 0.01], ["carol", 0.0]]), 0)).toBeNull();
    expect(sp.update(new Map([["bob", 0.2], ["carol", 0.05]]), 100)).toBe("bob");
    expect(sp.update(new Map([["bob", 0.0], ["carol", 0.0]]), 600)).toBe("bob");
    expect(sp.update(new Map([["bob", 0.0], ["carol", 0.0]]), 2000)).toBeNull();
    expect(sp.update(new Map([["bob", 0.1], ["carol", 0.3]]), 2100)).toBe("carol");
  });
});
