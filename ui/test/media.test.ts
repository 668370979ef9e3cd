import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeDevices, fakePc, FakePC, type FakeTrack } from "./fake-webrtc";
import { CALL_ID, calleeSnap, callerSnap, connectedPair, ICE, idle, link, resetFakes, settle, settleFake, side } from "./media-harness";

beforeEach(resetFakes);
afterEach(() => vi.useRealTimers());

const pcOf = (s: ReturnType<typeof side>, user: string) => {
  const pc = FakePC.all.find((p) => !p.closed && s.media.view().peers.some((v) => v.userId === user) && p === fakePcFor(s, user));
  return pc as FakePC;
};
function fakePcFor(s: ReturnType<typeof side>, user: string): FakePC | undefined {
  const peers = (s.media as unknown as { peers: Map<string, { pc: RTCPeerConnection }> }).peers;
  const p = peers.get(user);
  return p ? fakePc(p.pc) : undefined;
}

describe("perfect negotiation", () => {
  it("the caller offers while it rings, holds it until the accept, and the callee answers: no collision", async () => {
    const alice = side("alice");
    const bob = side("bob");
    link(alice, bob);
    alice.media.sync(callerSnap("outgoing", "received", "video"));
    bob.media.sync(calleeSnap("incoming", "video", true));
    await settle();
    const a = pcOf(alice, "bob");
    expect(a.offersMade.length).toBe(1);
    // Nothing may reach bob before he is in the call: the offer and candidates wait.
    expect(alice.api.signal).not.toHaveBeenCalled();
    alice.media.sync(callerSnap("inCall", "accepted", "video"));
    bob.media.sync(calleeSnap("inCall", "video"));
    await settle();
    const b = pcOf(bob, "alice");
    // The offer goes first of the negotiation, and no candidate overtakes it.
    const kinds = alice.sent.map((m) => Object.keys(m.payload as object).filter((k) => k !== "v")[0]);
    expect(kinds.filter((k) => k !== "sending")[0]).toBe("description");
    expect(b.offersMade).toHaveLength(0);
    expect(a.rollbacks + b.rollbacks).toBe(0);
    for (const pc of [a, b]) {
      expect(pc.signalingState).toBe("stable");
      expect(pc.connectionState).toBe("connected");
    }
    for (const s of [alice, bob]) {
      const v = s.media.view();
      expect(v.peers).toHaveLength(1);
      expect(v.peers[0]?.health).toBe("connected");
      expect(v.peers[0]?.stream.getAudioTracks()).toHaveLength(1);
      expect(v.peers[0]?.stream.getVideoTracks()).toHaveLength(1);
      expect(v.peers[0]?.hasVideo).toBe(true);
    }
    // Bob answered with send-and-receive and put his tracks on it: both of them are sent.
    expect(b.transceivers.filter((t) => t.sending && t.sender.track !== null).map((t) => t.kind).sort()).toEqual(["audio", "video"]);
    // The ICE servers from ice_config reached the peer connection.
    expect(a.config.iceServers).toEqual(ICE.iceServers);
    // The caller is the impolite side, on both sides' reckoning.
    const stats = await alice.media.stats();
    expect(stats.peers[0]).toMatchObject({ userId: "bob", polite: false, connectionState: "connected", selectedPair: { local: "host", remote: "relay" } });
    expect((await bob.media.stats()).peers[0]?.polite).toBe(true);
  });

  it("glare: both sides offer at once, end stable and connected, and the polite callee rolled back", async () => {
    // The callee does not wait for the caller's offer: both offer.
    const { alice, bob } = await connectedPair("video", settle, { offerWaitMs: 0 });
    const a = pcOf(alice, "bob");
    const b = pcOf(bob, "alice");
    expect(a.offersMade.length).toBeGreaterThan(0);
    expect(b.offersMade.length).toBeGreaterThan(0);
    expect(b.rollbacks).toBeGreaterThan(0);
    expect(a.rollbacks).toBe(0);
    for (const pc of [a, b]) {
      expect(pc.signalingState).toBe("stable");
      expect(pc.connectionState).toBe("connected");
    }
    for (const s of [alice, bob]) expect(s.media.view().peers[0]?.stream.getAudioTracks()).toHaveLength(1);
  });

  it("signals that arrive before the peer connection exists are kept and applied", async () => {
    const alice = side("alice");
    const bob = side("bob");
    link(alice, bob);
    // Bob clicked accept (capture starts) but his snapshot is not in the call yet.
    bob.media.sync(calleeSnap("incoming", "voice", true));
    alice.media.sync(callerSnap("inCall", "accepted"));
    await settle();
    expect(bob.media.view().peers).toHaveLength(0);
    bob.media.sync(calleeSnap("inCall"));
    await settle();
    expect(pcOf(alice, "bob").connectionState).toBe("connected");
    expect(pcOf(bob, "alice").signalingState).toBe("stable");
  });

  it("no candidate reaches the host before the description it belongs to, however slow the host is", async () => {
    const alice = side("alice");
    const order: string[] = [];
    // The host takes descriptions slowly and candidates at once, as concurrent commands may.
    alice.api.signal.mockImplementation(async (_c: string, _to: string, payload: unknown) => {
      const kind = Object.keys(payload as object).find((k) => k !== "v") ?? "?";
      if (kind === "description") await new Promise((r) => setTimeout(r, 20));
      order.push(kind);
    });
    alice.media.sync(callerSnap("outgoing", "received"));
    await settle();
    alice.media.sync(callerSnap("inCall", "accepted"));
    // Wait for the description and a candidate after it to have reached the host.
    await vi.waitFor(() => expect(order.slice(order.indexOf("description") + 1)).toContain("candidate"), { timeout: 2000 });
    const description = order.indexOf("description");
    expect(description).toBeGreaterThanOrEqual(0);
    expect(order.slice(0, description)).not.toContain("candidate");
  });

  it("a ringing call that ends unanswered closes its held connection and sends nothing", async () => {
    const alice = side("alice");
    alice.media.sync(callerSnap("outgoing", "received"));
    await settle();
    const a = pcOf(alice, "bob");
    alice.media.sync(null);
    await settle();
    expect(a.closed).toBe(true);
    expect(alice.api.signal).not.toHaveBeenCalled();
  });
});

describe("incoming payloads are untrusted", () => {
  it("drops malformed payloads, other calls and strangers, and logs them", async () => {
    const { alice } = await connectedPair();
    const pc = pcOf(alice, "bob");
    const before = pc.candidates.length;
    alice.logs.length = 0;
    const bad: unknown[] = [null, "x", 42, {}, { description: { type: "pranswer", sdp: "v=0" } }, { description: { type: "offer" } },
      { candidate: { candidate: 5 } }, { candidate: { candidate: "c", sdpMLineIndex: -1 } }, { v: 99, candidate: null },
      { description: { type: "offer", sdp: "x" }, candidate: null }, { sending: { audio: "yes", video: false } }];
    for (const payload of bad) alice.media.onSignal({ callId: CALL_ID, fromUserId: "bob", payload });
    alice.media.onSignal({ callId: "other-call", fromUserId: "bob", payload: { candidate: null } });
    alice.media.onSignal({ callId: CALL_ID, fromUserId: "mallory", payload: { candidate: null } });
    await settle();
    expect(alice.logs).toHaveLength(bad.length + 2);
    expect(alice.logs.every((l) => l.startsWith("dropped"))).toBe(true);
    expect(pc.candidates.length).toBe(before);
    expect(pc.signalingState).toBe("stable");
  });
});

describe("capture timing", () => {
  it("the caller captures as soon as the call is placed", async () => {
    const alice = side("alice");
    alice.media.sync(callerSnap("outgoing", "received", "video"));
    await settle();
    expect(alice.devices.requests).toEqual([{ audio: true, video: true }]);
    expect(alice.media.view().local?.getVideoTracks()).toHaveLength(1);
    expect(alice.api.iceConfig).toHaveBeenCalledTimes(1);
  });

  it("the callee does not capture while ringing, only once they accept", async () => {
    const bob = side("bob");
    bob.media.sync(calleeSnap("incoming", "video"));
    await settle();
    expect(bob.devices.requests).toHaveLength(0);
    expect(bob.media.view().local).toBeNull();
    bob.media.accept(CALL_ID);
    await settle();
    expect(bob.devices.requests).toEqual([{ audio: true, video: true }]);
  });

  it("an accept clicked in the popup shows as working: the main window captures then", async () => {
    const bob = side("bob");
    bob.media.sync(calleeSnap("incoming", "voice", true));
    await settle();
    expect(bob.devices.requests).toEqual([{ audio: true }]);
  });

  it("a failed accept stops the capture again", async () => {
    const bob = side("bob");
    bob.media.sync(calleeSnap("incoming"));
    bob.media.accept(CALL_ID);
    await settle();
    bob.media.acceptFailed();
    expect(bob.devices.made.every((t) => t.readyState === "ended")).toBe(true);
  });

  it("a call that ends before capture answers still stops the tracks it gets", async () => {
    const alice = side("alice");
    let release = () => undefined as void;
    alice.devices.hold = new Promise<void>((r) => (release = r));
    alice.media.sync(callerSnap("outgoing", "received", "video"));
    alice.media.sync(idle());
    release();
    await settle();
    expect(alice.devices.made).toHaveLength(2);
    expect(alice.devices.made.every((t) => t.readyState === "ended")).toBe(true);
  });
});

describe("devices missing or refused", () => {
  it("video call without a camera continues as voice, with a note, still receiving video", async () => {
    const alice = side("alice", { devices: new FakeDevices({ audio: true, video: false }) });
    const bob = side("bob");
    link(alice, bob);
    alice.media.sync(callerSnap("inCall", "accepted", "video"));
    bob.media.sync(calleeSnap("inCall", "video"));
    await settle();
    const v = alice.media.view();
    expect(alice.devices.requests).toEqual([{ audio: true, video: true }, { audio: true }]);
    expect(v.notes.map((n) => n.kind)).toEqual(["noCamera"]);
    expect(v.local?.getTracks().map((t) => t.kind)).toEqual(["audio"]);
    expect(v.cameraOn).toBe(false);
    expect(v.peers[0]?.hasVideo).toBe(true);
    expect(bob.media.view().peers[0]?.hasVideo).toBe(false);
  });

  it("no microphone: receive-only with a recvonly transceiver, and the other side is heard", async () => {
    const alice = side("alice", { devices: new FakeDevices({ audio: false, video: false }) });
    const bob = side("bob");
    link(alice, bob);
    bob.media.sync(calleeSnap("incoming", "voice", true));
    alice.media.sync(callerSnap("inCall", "accepted"));
    await settle();
    const pc = pcOf(alice, "bob");
    expect(pc.transceivers.map((t) => [t.kind, t.direction])).toEqual([["audio", "recvonly"]]);
    bob.media.sync(calleeSnap("inCall"));
    await settle();
    expect(alice.media.view().notes[0]).toMatchObject({ kind: "noMicrophone", reason: { kind: "notFound" } });
    expect(alice.media.view().peers[0]?.stream.getAudioTracks()).toHaveLength(1);
    expect(alice.media.view().hasMic).toBe(false);
  });

  it("a denied permission is one clear note, not asked again", async () => {
    const alice = side("alice", { devices: new FakeDevices({ audio: true, video: true, deny: true }) });
    alice.media.sync(callerSnap("outgoing", "received", "video"));
    await settle();
    expect(alice.devices.requests).toHaveLength(1);
    expect(alice.media.view().notes).toEqual([{ kind: "denied", video: true, reason: { kind: "denied", message: "Permission denied" } }]);
  });
});

describe("mute and camera", () => {
  it("mute disables the audio track and tells the other side", async () => {
    const { alice, bob } = await connectedPair("video");
    alice.media.toggleMute();
    await settle();
    const track = alice.media.view().local?.getAudioTracks()[0] as unknown as FakeTrack;
    expect(track.enabled).toBe(false);
    expect(track.readyState).toBe("live");
    expect(alice.media.view().micOn).toBe(false);
    expect(bob.media.view().peers[0]?.remoteSending).toEqual({ audio: false, video: true });
    alice.media.toggleMute();
    expect(track.enabled).toBe(true);
  });

  it("camera off stops the camera and sends nothing; camera on captures again and swaps it in", async () => {
    const { alice, bob } = await connectedPair("video");
    const pc = pcOf(alice, "bob");
    const cam = alice.media.view().local?.getVideoTracks()[0] as unknown as FakeTrack;
    const sender = pc.transceivers.find((t) => t.kind === "video" && t.sender.replaced.length === 0 && t.sender.track === cam)?.sender;
    expect(sender).toBeDefined();
    const offers = pc.offersMade.length;
    await alice.media.toggleCamera();
    await settle();
    expect(cam.readyState).toBe("ended");
    expect(sender?.replaced).toEqual([null]);
    expect(alice.media.view().cameraOn).toBe(false);
    expect(bob.media.view().peers[0]?.hasVideo).toBe(false);
    await alice.media.toggleCamera();
    await settle();
    const again = alice.media.view().local?.getVideoTracks()[0] as unknown as FakeTrack;
    expect(again).not.toBe(cam);
    expect(again.readyState).toBe("live");
    expect(sender?.track).toBe(again);
    expect(alice.devices.requests.at(-1)).toEqual({ video: true });
    expect(pc.offersMade.length).toBe(offers); // replaceTrack: no renegotiation
    expect(bob.media.view().peers[0]?.hasVideo).toBe(true);
  });
});

describe("ending", () => {
  it("hang-up closes every peer connection and stops every local track, on both sides", async () => {
    const { alice, bob } = await connectedPair("video");
    const a = pcOf(alice, "bob");
    const b = pcOf(bob, "alice");
    alice.media.sync(idle());
    bob.media.sync(idle("bob"));
    expect(a.closed && b.closed).toBe(true);
    for (const s of [alice, bob]) {
      expect(s.devices.made.length).toBeGreaterThanOrEqual(2);
      expect(s.devices.made.every((t) => t.readyState === "ended")).toBe(true);
      const st = await s.media.stats();
      expect(st).toMatchObject({ openPeers: 0, closedPeers: 1, localTracksEnded: true, capturedTracks: 2, localTracks: [] });
    }
  });

  it("a peer that leaves a group call gets its connection closed", async () => {
    const { alice } = await connectedPair();
    const pc = pcOf(alice, "bob");
    const s = callerSnap("inCall", "accepted");
    s.call!.peers[0]!.state = "quit";
    alice.media.sync(s);
    expect(pc.closed).toBe(true);
    expect(alice.media.view().peers).toHaveLength(0);
  });
});

describe("connection health", () => {
  const timing = { connectTimeoutMs: 15_000, reconnectTimeoutMs: 15_000, iceRestartEveryMs: 5_000 };

  it("lost after connecting: reconnecting at once, the impolite side restarts ICE, back in time: no failure", async () => {
    vi.useFakeTimers();
    const { alice, bob } = await connectedPair("voice", settleFake, timing);
    const a = pcOf(alice, "bob");
    const b = pcOf(bob, "alice");
    a.setState("disconnected");
    b.setState("disconnected");
    expect(alice.media.view().peers[0]?.health).toBe("reconnecting");
    expect(a.restarts).toBe(1); // alice, the caller, is impolite
    expect(b.restarts).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    a.setState("connected");
    b.setState("connected");
    expect(alice.media.view().peers[0]?.health).toBe("connected");
    await vi.advanceTimersByTimeAsync(30_000);
    expect(alice.api.mediaFailed).not.toHaveBeenCalled();
    expect(bob.api.mediaFailed).not.toHaveBeenCalled();
  });

  it("not back within the reconnect time: connectionLost, and everything stops", async () => {
    vi.useFakeTimers();
    const { alice } = await connectedPair("video", settleFake, timing);
    const a = pcOf(alice, "bob");
    a.setState("failed");
    await vi.advanceTimersByTimeAsync(14_999);
    expect(alice.api.mediaFailed).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(alice.api.mediaFailed).toHaveBeenCalledWith(CALL_ID, "connectionLost");
    expect(alice.api.mediaFailed).toHaveBeenCalledTimes(1);
    expect(a.closed).toBe(true);
    expect(alice.devices.made.every((t) => t.readyState === "ended")).toBe(true);
    // The host has not ended the call yet: no new connection for the same call.
    alice.media.sync(callerSnap("inCall", "accepted", "video"));
    await settleFake();
    expect(FakePC.all.filter((p) => !p.closed)).toHaveLength(1); // bob's only
  });

  it("never connected (TURN refused, stuck in new): couldNotConnect after the connect time", async () => {
    vi.useFakeTimers();
    FakePC.blockConnect = true;
    const { alice, bob } = await connectedPair("voice", settleFake, { ...timing, connectTimeoutMs: 15_000 });
    expect(pcOf(alice, "bob").connectionState).toBe("new");
    expect(alice.media.view().peers[0]?.health).toBe("connecting");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(alice.api.mediaFailed).toHaveBeenCalledWith(CALL_ID, "couldNotConnect");
    expect(bob.api.mediaFailed).toHaveBeenCalledWith(CALL_ID, "couldNotConnect");
  });

  it("a permission prompt left open on both sides does not count as a failed connection", async () => {
    vi.useFakeTimers();
    const alice = side("alice", { timing });
    const bob = side("bob", { timing });
    link(alice, bob);
    let release = () => undefined as void;
    const hold = new Promise<void>((r) => (release = r));
    alice.devices.hold = hold;
    bob.devices.hold = hold;
    alice.media.sync(callerSnap("inCall", "accepted"));
    bob.media.sync(calleeSnap("inCall"));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(alice.api.mediaFailed).not.toHaveBeenCalled();
    release();
    await settleFake();
    expect(pcOf(alice, "bob").connectionState).toBe("connected");
    expect(alice.api.mediaFailed).not.toHaveBeenCalled();
  });

  it("the durations are injectable", async () => {
    vi.useFakeTimers();
    FakePC.blockConnect = true;
    const { alice } = await connectedPair("voice", settleFake, { connectTimeoutMs: 500 });
    await vi.advanceTimersByTimeAsync(500);
    expect(alice.api.mediaFailed).toHaveBeenCalledWith(CALL_ID, "couldNotConnect");
  });
});

describe("a webview without WebRTC", () => {
  it("reports unsupported and never touches the devices", async () => {
    const alice = side("alice", { rtc: false });
    alice.media.sync(callerSnap("inCall", "accepted", "video"));
    await settle();
    expect(alice.media.view().supported).toBe(false);
    expect(alice.devices.requests).toHaveLength(0);
    expect((await alice.media.stats()).supported).toBe(false);
  });
});
