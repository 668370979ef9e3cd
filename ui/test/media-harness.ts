// Media controllers on fakes, and two of them wired through an in-memory signal channel
// that behaves like the host relay: async, JSON on the wire, per-call.
import { vi } from "vitest";
import { MediaController, type MediaApi } from "../src/media/controller";
import type { IceConfig } from "../src/media/host";
import type { MediaTiming } from "../src/media/timing";
import { incomingCall, member, outgoingCall, snapshot } from "../src/fixtures";
import type { CallType, Snapshot } from "../src/types";
import { FakeDevices, fakeEnv, FakePC } from "./fake-webrtc";
import { NOW } from "./helpers";

export const ICE: IceConfig = {
  iceServers: [{ urls: ["turn:turn.example:3478"], username: "u", credential: "c" }],
  iceTransportPolicy: "all",
};

export const CALL_ID = "call-1";

export type Side = {
  userId: string;
  media: MediaController;
  api: { iceConfig: ReturnType<typeof vi.fn>; signal: ReturnType<typeof vi.fn>; mediaFailed: ReturnType<typeof vi.fn> };
  devices: FakeDevices;
  sent: { callId: string; to: string; payload: unknown }[];
  logs: string[];
  changes: number;
  deliver?: (callId: string, to: string, payload: unknown) => void;
};

export function side(
  userId: string,
  opts: { devices?: FakeDevices; rtc?: boolean; timing?: Partial<MediaTiming>; storage?: Pick<Storage, "getItem" | "setItem"> | null } = {},
): Side {
  const devices = opts.devices ?? new FakeDevices();
  const s = { userId, devices, sent: [], logs: [], changes: 0 } as unknown as Side;
  s.api = {
    iceConfig: vi.fn(async () => ICE),
    signal: vi.fn(async (callId: string, to: string, payload: unknown) => {
      s.sent.push({ callId, to, payload });
      s.deliver?.(callId, to, payload);
    }),
    mediaFailed: vi.fn(async () => undefined),
  };
  s.media = new MediaController({
    api: s.api as unknown as MediaApi,
    env: fakeEnv(devices, opts.rtc ?? true),
    timing: opts.timing,
    onChange: () => s.changes++,
    log: (m) => s.logs.push(m),
    doc: document,
    storage: opts.storage ?? null,
  });
  return s;
}

/** The relay among any number of sides: each signal reaches its addressee a macrotask later, as JSON. */
export function mesh(sides: Side[]): void {
  for (const from of sides)
    from.deliver = (callId, toUser, payload) => {
      const to = sides.find((x) => x.userId === toUser);
      if (!to) return;
      const json = JSON.parse(JSON.stringify(payload)) as unknown;
      setTimeout(() => to.media.onSignal({ callId, fromUserId: from.userId, payload: json }), 0);
    };
}

/** The relay: what one side signals reaches the other one a macrotask later, as JSON. */
export function link(a: Side, b: Side): void {
  const wire = (from: Side, to: Side) => {
    from.deliver = (callId, toUser, payload) => {
      if (toUser !== to.userId) return;
      const json = JSON.parse(JSON.stringify(payload)) as unknown;
      setTimeout(() => to.media.onSignal({ callId, fromUserId: from.userId, payload: json }), 0);
    };
  };
  wire(a, b);
  wire(b, a);
}

/** Alice called Bob: her snapshot. */
export function callerSnap(phase: Snapshot["phase"], peerState: "received" | "accepted", callType: CallType = "voice"): Snapshot {
  return snapshot({
    phase,
    call: outgoingCall(NOW, [member("bob", "bob", peerState)], { callId: CALL_ID, callType, startedAt: phase === "inCall" ? NOW : null }),
  });
}

/** Bob's side of Alice's call. */
export function calleeSnap(phase: Snapshot["phase"], callType: CallType = "voice", working = false): Snapshot {
  return snapshot({
    userId: "bob",
    userName: "bob",
    phase,
    call: incomingCall(NOW, {
      callId: CALL_ID,
      callerId: "alice",
      callerName: "Alice Martin",
      peers: [member("alice", "Alice Martin", "accepted")],
      callType,
      working,
      startedAt: phase === "inCall" ? NOW : null,
    }),
  });
}

export const idle = (userId = "alice"): Snapshot => snapshot({ userId, phase: "free", call: null });

/** Lets promise chains and zero-delay timers run (real timers). */
export async function settle(rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

/** The same under fake timers. */
export async function settleFake(rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) await vi.advanceTimersByTimeAsync(1);
}

export function resetFakes(): void {
  FakePC.all = [];
  FakePC.blockConnect = false;
}

/** Alice and Bob in a connected 1:1 call. */
export async function connectedPair(callType: CallType = "voice", settleFn = settle, timing?: Partial<MediaTiming>) {
  const alice = side("alice", { timing });
  const bob = side("bob", { timing });
  link(alice, bob);
  alice.media.sync(callerSnap("outgoing", "received", callType));
  bob.media.sync(calleeSnap("incoming", callType, true));
  await settleFn();
  alice.media.sync(callerSnap("inCall", "accepted", callType));
  bob.media.sync(calleeSnap("inCall", callType));
  await settleFn();
  return { alice, bob };
}
