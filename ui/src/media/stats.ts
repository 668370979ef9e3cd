// The diagnostics hook end-to-end tests read over WebDriver:
//
//   await window.beckonMedia.stats()  // -> MediaStats, plain JSON
//
// {
//   supported: boolean,              // false in a webview without RTCPeerConnection
//   callId: string | null,
//   openPeers: number,               // peer connections alive now
//   closedPeers: number,             // peer connections closed since the window loaded
//   localTracks: [{ kind, readyState: "live" | "ended", enabled, label }],  // current call
//   localTracksEnded: boolean,       // every track captured for the current/last call has ended
//   capturedTracks: number,          // how many that was
//   notes: string[],                 // DeviceNote kinds: "noCamera", "noMicrophone", "denied", "cameraFailed"
//   peers: [{
//     userId, polite, health: "connecting" | "connected" | "reconnecting" | "closed",
//     connectionState, iceConnectionState, signalingState, iceRestarts,
//     selectedPair: { local: candidateType, remote: candidateType } | null,   // "host" | "srflx" | "prflx" | "relay"
//     inboundAudio: { packetsReceived, audioLevel } | null,
//     inboundVideo: { framesDecoded, frameWidth, frameHeight } | null,
//     outboundAudio: { packetsSent, bytesSent } | null,
//     outboundVideo: { framesEncoded, bytesSent } | null,
//     remoteVideo: { videoWidth, videoHeight } | null,   // the page's <video data-remote-video=userId>
//     marks: { created, attached, "sent-offer", "got-answer", connected, … },  // Unix ms, first time each
//     level, quality: { level: "good" | "weak" | "poor", rttMs, lossPct, inKbps } | null,  // as the page shows them
//   }],
//   failedPeers: string[],           // a group call's connections that gave up (retried)
//   speaking: string | null, localLevel: number, sharing: boolean,
//   devices: { microphone: [{ deviceId, label }], camera: [...], speaker: [...], chosen: {...} },
// }
import type { Peer } from "./peer";
import type { Devices, MediaView, Quality } from "./view";

export type PeerStats = {
  userId: string;
  polite: boolean;
  health: string;
  connectionState: string | null;
  iceConnectionState: string;
  signalingState: string;
  iceRestarts: number;
  selectedPair: { local: string | null; remote: string | null } | null;
  inboundAudio: { packetsReceived: number; audioLevel: number | null } | null;
  inboundVideo: { framesDecoded: number; frameWidth: number | null; frameHeight: number | null } | null;
  outboundAudio: { packetsSent: number; bytesSent: number } | null;
  outboundVideo: { framesEncoded: number; bytesSent: number } | null;
  remoteVideo: { videoWidth: number; videoHeight: number } | null;
  /** When each set-up step first happened, Unix ms: created, attached, sent-offer, got-answer, connected… */
  marks: Record<string, number>;
  level: number;
  quality: Quality | null;
};

export type MediaStats = {
  supported: boolean;
  callId: string | null;
  openPeers: number;
  closedPeers: number;
  localTracks: { kind: string; readyState: string; enabled: boolean; label: string }[];
  localTracksEnded: boolean;
  capturedTracks: number;
  notes: string[];
  /** When this call's capture started and settled, Unix ms (null before it did). */
  capture: { started: number | null; settled: number | null };
  /** The media module's last log lines (what went wrong, when something did). */
  recentLog: string[];
  peers: PeerStats[];
  failedPeers: string[];
  speaking: string | null;
  localLevel: number;
  sharing: boolean;
  devices: Devices;
};

export type StatsInput = {
  supported: boolean;
  callId: string | null;
  peers: Peer[];
  local: MediaStream | null;
  captured: MediaStreamTrack[];
  closedPeers: number;
  notes: string[];
  capture: MediaStats["capture"];
  recentLog: string[];
  doc: Document | undefined;
  /** What the page shows, for the levels, quality and devices. */
  view: MediaView;
};

type Report = Record<string, unknown> & { id: string; type: string };

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);
const str = (x: unknown): string | null => (typeof x === "string" ? x : null);

function selectedPair(reports: Map<string, Report>): PeerStats["selectedPair"] {
  let pair: Report | undefined;
  for (const r of reports.values()) {
    if (r.type === "transport" && typeof r.selectedCandidatePairId === "string") pair = reports.get(r.selectedCandidatePairId);
    if (pair) break;
  }
  if (!pair) {
    // Firefox marks the pair itself; others: the nominated pair that succeeded.
    for (const r of reports.values())
      if (r.type === "candidate-pair" && (r.selected === true || (r.nominated === true && r.state === "succeeded"))) pair = r;
  }
  if (!pair) return null;
  const local = reports.get(String(pair.localCandidateId));
  const remote = reports.get(String(pair.remoteCandidateId));
  return { local: str(local?.candidateType), remote: str(remote?.candidateType) };
}

async function peerStats(p: Peer, doc: Document | undefined, view: MediaView): Promise<PeerStats> {
  const reports = new Map<string, Report>();
  try {
    const r = await p.pc.getStats();
    r.forEach((v: Report) => reports.set(v.id, v));
  } catch {
    /* closed: the states below still say so */
  }
  const find = (type: string, kind: string): Report | undefined =>
    Array.from(reports.values()).find((r) => r.type === type && (r.kind === kind || r.mediaType === kind));
  const ia = find("inbound-rtp", "audio");
  const iv = find("inbound-rtp", "video");
  const oa = find("outbound-rtp", "audio");
  const ov = find("outbound-rtp", "video");
  const shown = view.peers.find((v) => v.userId === p.userId && v.health !== "failed");
  const el = doc ? Array.from(doc.querySelectorAll<HTMLVideoElement>("video[data-remote-video]")).find((v) => v.dataset.remoteVideo === p.userId) : undefined;
  return {
    userId: p.userId,
    polite: p.polite,
    health: p.health,
    connectionState: str((p.pc as { connectionState?: unknown }).connectionState),
    iceConnectionState: p.pc.iceConnectionState,
    signalingState: p.pc.signalingState,
    iceRestarts: p.restarts,
    selectedPair: selectedPair(reports),
    inboundAudio: ia ? { packetsReceived: num(ia.packetsReceived) ?? 0, audioLevel: num(ia.audioLevel) } : null,
    inboundVideo: iv ? { framesDecoded: num(iv.framesDecoded) ?? 0, frameWidth: num(iv.frameWidth), frameHeight: num(iv.frameHeight) } : null,
    outboundAudio: oa ? { packetsSent: num(oa.packetsSent) ?? 0, bytesSent: num(oa.bytesSent) ?? 0 } : null,
    outboundVideo: ov ? { framesEncoded: num(ov.framesEncoded) ?? 0, bytesSent: num(ov.bytesSent) ?? 0 } : null,
    remoteVideo: el ? { videoWidth: el.videoWidth, videoHeight: el.videoHeight } : null,
    marks: { ...p.marks },
    level: shown?.level ?? 0,
    quality: shown?.quality ?? null,
  };
}

export async function collectStats(i: StatsInput): Promise<MediaStats> {
  const tracks = i.local?.getTracks() ?? [];
  return {
    supported: i.supported,
    callId: i.callId,
    openPeers: i.peers.length,
    closedPeers: i.closedPeers,
    localTracks: tracks.map((t) => ({ kind: t.kind, readyState: t.readyState, enabled: t.enabled, label: t.label })),
    localTracksEnded: i.captured.every((t) => t.readyState === "ended"),
    capturedTracks: i.captured.length,
    notes: i.notes,
    capture: i.capture,
    recentLog: i.recentLog,
    peers: await Promise.all(i.peers.map((p) => peerStats(p, i.doc, i.view))),
    failedPeers: i.view.peers.filter((p) => p.health === "failed").map((p) => p.userId),
    speaking: i.view.speaking,
    localLevel: i.view.localLevel,
    sharing: i.view.sharing,
    devices: i.view.devices,
  };
}

/** Installs `window.beckonMedia` for WebDriver. */
export function installDiagnostics(win: Window, media: { stats(): Promise<MediaStats> }): void {
  (win as Window & { beckonMedia?: unknown }).beckonMedia = { stats: () => media.stats() };
}
