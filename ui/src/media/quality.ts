// How each connection is doing and who is talking, read from the engine's own `getStats`
// a few times a second. The numbers become a plain word the page can show (good / weak /
// poor): people act on "your connection is weak", not on "RTT 420 ms".
import type { Quality } from "./view";

/** How often levels are read: fast enough for a speaking ring to follow speech. */
export const SAMPLE_EVERY_MS = 400;
/**
 * A full `getStats` (for quality) every this many level samples: it costs far more than
 * the levels, and with nine peers in a call it would otherwise be a core's share.
 */
export const QUALITY_EVERY = 5;
/** Quality is judged over this long: a single late packet is not a weak connection. */
const QUALITY_WINDOW_MS = 3_000;
/** Below this an audio level is room noise, not someone talking. */
export const SPEAKING_LEVEL = 0.03;
/** The speaker keeps the highlight this long after going quiet, so it does not flicker between words. */
const SPEAKER_HOLD_MS = 1_200;

/** Thresholds for the words; loss in percent of expected packets, round trip in ms. */
const POOR = { lossPct: 8, rttMs: 600 };
const WEAK = { lossPct: 2, rttMs: 300 };

type Report = Record<string, unknown> & { id: string; type: string };

/** Running totals from one peer connection's report. */
export type Totals = {
  at: number;
  /** The loudest inbound audio level (0..1), null without inbound audio. */
  audioLevel: number | null;
  /** The level of what this side's microphone sends (media-source), null without. */
  localLevel: number | null;
  received: number;
  lost: number;
  bytesReceived: number;
  /** The other side's latest view of what it lost from us, 0..1. */
  remoteFractionLost: number | null;
  rttMs: number | null;
};

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

export function totals(reports: Iterable<Report>, at: number): Totals {
  const t: Totals = { at, audioLevel: null, localLevel: null, received: 0, lost: 0, bytesReceived: 0, remoteFractionLost: null, rttMs: null };
  const byId = new Map<string, Report>();
  for (const r of reports) byId.set(r.id, r);
  let pairRtt: number | null = null;
  let remoteRtt: number | null = null;
  for (const r of byId.values()) {
    const kind = r.kind ?? r.mediaType;
    if (r.type === "inbound-rtp") {
      t.received += num(r.packetsReceived) ?? 0;
      t.lost += Math.max(0, num(r.packetsLost) ?? 0);
      t.bytesReceived += num(r.bytesReceived) ?? 0;
      const level = kind === "audio" ? num(r.audioLevel) : null;
      if (level !== null) t.audioLevel = Math.max(t.audioLevel ?? 0, level);
    } else if (r.type === "media-source" && kind === "audio") {
      const level = num(r.audioLevel);
      if (level !== null) t.localLevel = Math.max(t.localLevel ?? 0, level);
    } else if (r.type === "remote-inbound-rtp") {
      const f = num(r.fractionLost);
      if (f !== null) t.remoteFractionLost = Math.max(t.remoteFractionLost ?? 0, f);
      const rtt = num(r.roundTripTime);
      if (rtt !== null) remoteRtt = Math.max(remoteRtt ?? 0, rtt * 1000);
    } else if (r.type === "transport" && typeof r.selectedCandidatePairId === "string") {
      const rtt = num(byId.get(r.selectedCandidatePairId)?.currentRoundTripTime);
      if (rtt !== null) pairRtt = rtt * 1000;
    }
  }
  t.rttMs = pairRtt ?? remoteRtt;
  return t;
}

/** The word for a loss and a round trip; unknowns count as fine. */
export function judge(lossPct: number | null, rttMs: number | null): Quality["level"] {
  const loss = lossPct ?? 0;
  const rtt = rttMs ?? 0;
  if (loss >= POOR.lossPct || rtt >= POOR.rttMs) return "poor";
  if (loss >= WEAK.lossPct || rtt >= WEAK.rttMs) return "weak";
  return "good";
}

/** Quality between two totals of the same connection (older first). */
export function quality(before: Totals, now: Totals): Quality {
  const received = now.received - before.received;
  const lost = now.lost - before.lost;
  const expected = received + lost;
  const inLoss = expected > 0 && lost >= 0 ? (100 * lost) / expected : null;
  const outLoss = now.remoteFractionLost === null ? null : 100 * now.remoteFractionLost;
  const lossPct = inLoss === null && outLoss === null ? null : Math.max(inLoss ?? 0, outLoss ?? 0);
  const ms = now.at - before.at;
  const inKbps = ms > 0 ? Math.round(((now.bytesReceived - before.bytesReceived) * 8) / ms) : null;
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return { level: judge(lossPct, now.rttMs), rttMs: now.rttMs === null ? null : Math.round(now.rttMs), lossPct: round(lossPct), inKbps };
}

/** One peer's samples over the quality window. */
export class PeerSamples {
  private readonly kept: Totals[] = [];
  level = 0;
  quality: Quality | null = null;

  add(t: Totals): void {
    this.kept.push(t);
    while (this.kept.length > 2 && t.at - this.kept[1]!.at >= QUALITY_WINDOW_MS) this.kept.shift();
    this.level = t.audioLevel ?? 0;
    const first = this.kept[0]!;
    if (t.at - first.at >= SAMPLE_EVERY_MS) this.quality = quality(first, t);
  }
}

/**
 * The active speaker: the loudest above the speaking level; the last one keeps it for a
 * moment of quiet unless someone else talks.
 */
export class SpeakerTracker {
  private current: string | null = null;
  private lastHeard = 0;

  update(levels: Map<string, number>, now: number): string | null {
    let loudest: string | null = null;
    let max = SPEAKING_LEVEL;
    for (const [id, level] of levels)
      if (level >= max) {
        max = level;
        loudest = id;
      }
    if (loudest !== null) {
      this.current = loudest;
      this.lastHeard = now;
    } else if (this.current !== null && (now - this.lastHeard > SPEAKER_HOLD_MS || !levels.has(this.current))) {
      this.current = null;
    }
    return this.current;
  }
}

/**
 * The loudest level among what a connection's audio receivers last played, from their
 * synchronization sources: no stats report to build. Null where the engine lacks them.
 */
export function receiverLevel(pc: RTCPeerConnection): number | null {
  if (typeof pc.getReceivers !== "function") return null;
  let level: number | null = null;
  for (const r of pc.getReceivers()) {
    if (r.track?.kind !== "audio" || typeof r.getSynchronizationSources !== "function") continue;
    for (const src of r.getSynchronizationSources()) {
      const l = num(src.audioLevel);
      if (l !== null) level = Math.max(level ?? 0, l);
    }
  }
  return level;
}

/** What this side's microphone sends, from one audio sender's own stats (media-source). */
export async function senderLevel(pc: RTCPeerConnection): Promise<number | null> {
  if (typeof pc.getSenders !== "function") return null;
  const sender = pc.getSenders().find((s) => s.track?.kind === "audio");
  if (!sender) return null;
  try {
    const reports: Report[] = [];
    (await sender.getStats()).forEach((v: Report) => reports.push(v));
    return totals(reports, 0).localLevel;
  } catch {
    return null;
  }
}
