// Dev-only preview harness: renders any page from a fixture snapshot over a fake
// transport. `npm run dev`, then open /preview.html (the index lists every page).
// Never part of the production build (vite builds index.html only).
import "./styles.css";
import { html, render } from "lit-html";
import { createApi, EVENT_UPDATE } from "./api";
import { App } from "./app";
import { FakeTransport } from "./fake-transport";
import { ALL_OUTCOMES, CONNECTED, DISCONNECTED, GROUP_PEOPLE, RECONNECTING, SETTINGS, finishedCall, fixtures, groupCall, history, incomingCall, member, missedHistory, peerView, snapshot } from "./fixtures";
import { MediaController, type Devices, type MediaModule, type MediaView, type PeerView } from "./media/controller";
import type { HostOutcome as Outcome, HostUpdate as Update } from "./media/host";
import { installDiagnostics } from "./media/stats";
import { paintedCamera, staticMedia } from "./preview-media";
import { SOUND_PREFS_KEY, type SoundPrefs } from "./sounds";
import type { Connection, HistoryEntry, Settings, Snapshot } from "./types";

const params = new URLSearchParams(location.search);
const page = params.get("page");
const NOW = Date.now();

type Scene = {
  settings: Settings | null;
  snapshot: Snapshot | null;
  popup?: boolean;
  edit?: boolean;
  outcome?: Outcome;
  empty?: boolean;
  /** The history instead of the default one. */
  history?: () => HistoryEntry[];
  /** When the missed-call badge last saw home (its localStorage mark). */
  seenAt?: number;
  /** A fixed media state (null: the default module, which is real WebRTC in a browser). */
  media?: (onChange: () => void) => MediaModule;
  /** Real WebRTC both ways: a second controller in this page plays bob. */
  live?: boolean;
  swapped?: boolean;
  /** Stored sound preferences (beckon.sounds), and the Sounds card's Play pressed. */
  sounds?: SoundPrefs;
  playing?: boolean;
  /** The call's Devices popover is open. */
  devicesOpen?: boolean;
};

/** Streams are made when a scene is opened, not for the index. */
const cams = () => ({ bob: paintedCamera("bob", 200), me: paintedCamera("you", 20) });
const silent = () => new MediaStream();
const videoCall = (over: Partial<MediaView>) => {
  const c = cams();
  return staticMedia({ local: c.me, cameraOn: true, peers: [peerView("bob", c.bob, { hasVideo: true, remoteSending: { audio: true, video: true } })], ...over });
};
const CALL_LIVE = "call-live-1";

const GOOD = { level: "good", rttMs: 38, lossPct: 0.2, inKbps: 1450 } as const;
const WEAK = { level: "weak", rttMs: 310, lossPct: 4.8, inKbps: 420 } as const;

/** A group call's media: alice and the first `others` of GROUP_PEOPLE, as `over` says per person. */
function groupMedia(others: number, video: boolean, over: Record<string, Partial<PeerView>>, view: Partial<MediaView> = {}) {
  const peers = GROUP_PEOPLE.slice(0, others).map(([id], i) =>
    peerView(id, video ? paintedCamera(id, (i * 47 + 200) % 360) : silent(), {
      hasVideo: video,
      remoteSending: { audio: true, video },
      quality: GOOD,
      level: 0.05,
      ...over[id],
    }),
  );
  return staticMedia({ local: video ? cams().me : silent(), cameraOn: video, localLevel: 0.1, peers, ...view });
}

const DEVICES: Devices = {
  microphone: [
    { deviceId: "mic-builtin", label: "Built-in Microphone" },
    { deviceId: "mic-usb", label: "USB Headset" },
  ],
  camera: [
    { deviceId: "cam-facetime", label: "FaceTime HD Camera" },
    { deviceId: "cam-usb", label: "Logitech C920" },
  ],
  speaker: [
    { deviceId: "spk-builtin", label: "Built-in Speakers" },
    { deviceId: "spk-usb", label: "USB Headset" },
  ],
  chosen: { microphone: "mic-usb", camera: null, speaker: null },
  canChooseSpeaker: params.get("speaker") !== "fixed",
};

const conn = (c: Connection): Snapshot => snapshot({ connection: c });

const SCENES: Record<string, () => Scene> = {
  "settings-first": () => ({ settings: null, snapshot: null }),
  // `&speaker=fixed`: an engine that can't choose the speaker; `&unnamed`: no permission yet.
  devices: () => ({
    settings: SETTINGS,
    snapshot: snapshot(),
    edit: true,
    media: staticMedia(params.has("unnamed") ? {} : { devices: DEVICES }),
  }),
  settings: () => ({ settings: SETTINGS, snapshot: snapshot(), edit: true }),
  // `&volume=0`: the silent ring's words.
  "settings-sounds": () => ({ settings: SETTINGS, snapshot: snapshot(), edit: true, sounds: { ringtone: "chime", volume: Number(params.get("volume") ?? 40) }, playing: true }),
  home: () => ({ settings: SETTINGS, snapshot: conn(CONNECTED) }),
  "home-dnd": () => ({ settings: SETTINGS, snapshot: { ...conn(CONNECTED), doNotDisturb: true } }),
  "home-reconnecting": () => ({ settings: SETTINGS, snapshot: conn(RECONNECTING) }),
  "home-offline": () => ({ settings: SETTINGS, snapshot: conn(DISCONNECTED) }),
  "home-empty": () => ({ settings: SETTINGS, snapshot: conn(CONNECTED), empty: true }),
  "home-history-error": () => ({ settings: SETTINGS, snapshot: conn({ state: "connecting" }), history: () => { throw { kind: "notConnected", message: "not connected (connecting)" }; } }),
  "home-missed": () => ({ settings: SETTINGS, snapshot: conn(CONNECTED), history: () => missedHistory(NOW), seenAt: NOW - 30 * 60_000 }),
  banner: () => {
    const kind = params.get("outcome") ?? "declined";
    const outcome: Outcome | undefined =
      kind === "mediaLost" ? { kind: "mediaFailed", problem: "connectionLost" } : ALL_OUTCOMES.find((o) => o.kind === kind);
    return { settings: SETTINGS, snapshot: snapshot(), outcome: outcome ?? { kind: "declined" } };
  },
  waiting: () => ({ settings: SETTINGS, snapshot: fixtures.waitingRinging(NOW) }),
  "waiting-placing": () => ({ settings: SETTINGS, snapshot: fixtures.waitingPlacing(NOW) }),
  "waiting-offline": () => ({ settings: SETTINGS, snapshot: fixtures.waitingOffline(NOW) }),
  "waiting-group": () => ({ settings: SETTINGS, snapshot: fixtures.waitingGroup(NOW) }),
  calling: () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW) }),
  "calling-voice": () => ({ settings: SETTINGS, snapshot: fixtures.callingVoice(NOW) }),
  "calling-group": () => ({ settings: SETTINGS, snapshot: fixtures.callingGroup(NOW) }),
  "call-voice": () => ({ settings: SETTINGS, snapshot: fixtures.callingVoice(NOW), media: staticMedia({ local: silent(), peers: [peerView("bob", silent())] }) }),
  "call-voice-muted": () => ({
    settings: SETTINGS,
    snapshot: fixtures.callingVoice(NOW),
    media: staticMedia({ local: silent(), micOn: false, peers: [peerView("bob", silent(), { remoteSending: { audio: false, video: false } })] }),
  }),
  "call-video": () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW), media: videoCall({}) }),
  "video-1to1": () => {
    const c = cams();
    return {
      settings: SETTINGS,
      snapshot: fixtures.calling(NOW),
      media: staticMedia({ local: c.me, cameraOn: true, speaking: "bob", peers: [peerView("bob", c.bob, { hasVideo: true, remoteSending: { audio: true, video: true }, quality: GOOD, level: 0.6 })] }),
    };
  },
  "voice-1to1-weak": () => ({ settings: SETTINGS, snapshot: fixtures.callingVoice(NOW), media: staticMedia({ local: silent(), speaking: "bob", peers: [peerView("bob", silent(), { quality: WEAK, level: 0.5 })] }) }),
  // `&others=N`: how many besides you (1..9).
  "grid-4": () => ({
    settings: SETTINGS,
    snapshot: groupCall(NOW, Number(params.get("others") ?? 3)),
    media: groupMedia(Number(params.get("others") ?? 3), true, {
      bob: { level: 0.7 },
      carol: { remoteSending: { audio: false, video: true }, level: 0 },
      dan: { quality: WEAK, hasVideo: false, remoteSending: { audio: true, video: false } },
    }, { speaking: "bob" }),
  }),
  "grid-held-back": () => ({
    settings: SETTINGS,
    snapshot: groupCall(NOW, 4),
    media: groupMedia(4, true, {}, { cameraOn: false, videoHeldBack: true, speaking: "erin" }),
  }),
  "grid-4-voice": () => ({
    settings: SETTINGS,
    snapshot: groupCall(NOW, 3, "voice"),
    media: groupMedia(3, false, { carol: { remoteSending: { audio: false, video: false } }, dan: { health: "failed", quality: null } }, { speaking: "alice", localLevel: 0.8 }),
  }),
  "grid-10-voice": () => ({
    settings: SETTINGS,
    snapshot: groupCall(NOW, 9, "voice"),
    media: groupMedia(9, false, {
      bob: { level: 0.2 },
      carol: { level: 0.75 },
      erin: { remoteSending: { audio: false, video: false } },
      gus: { health: "reconnecting" },
      hana: { quality: { level: "poor", rttMs: 640, lossPct: 12.5, inKbps: 90 } },
      judy: { remoteSending: { audio: false, video: false } },
    }, { speaking: "carol", micOn: false }),
  }),
  sharing: () => {
    const c = cams();
    return {
      settings: SETTINGS,
      snapshot: fixtures.calling(NOW),
      media: staticMedia({ local: paintedCamera("your screen", 140), cameraOn: false, sharing: true, peers: [peerView("bob", c.bob, { hasVideo: true, quality: GOOD })] }),
    };
  },
  "call-devices": () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW), media: videoCall({ devices: DEVICES }), devicesOpen: true }),
  "call-video-swapped": () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW), media: videoCall({}), swapped: true }),
  "call-connecting": () => ({
    settings: SETTINGS,
    snapshot: fixtures.calling(NOW),
    media: staticMedia({ local: cams().me, cameraOn: true, peers: [peerView("bob", silent(), { health: "connecting", remoteSending: null })] }),
  }),
  "call-reconnecting": () => {
    const c = cams();
    return { settings: SETTINGS, snapshot: fixtures.calling(NOW), media: staticMedia({ local: c.me, cameraOn: true, peers: [peerView("bob", c.bob, { health: "reconnecting", hasVideo: true })] }) };
  },
  "call-no-camera": () => {
    const c = cams();
    return {
      settings: SETTINGS,
      snapshot: fixtures.calling(NOW),
      media: staticMedia({ local: silent(), cameraOn: false, notes: [{ kind: "noCamera", reason: { kind: "notFound", message: "" } }], peers: [peerView("bob", c.bob, { hasVideo: true })] }),
    };
  },
  "call-no-mic": () => ({
    settings: SETTINGS,
    snapshot: fixtures.callingVoice(NOW),
    media: staticMedia({ hasMic: false, notes: [{ kind: "noMicrophone", reason: { kind: "notFound", message: "" } }], peers: [peerView("bob", silent())] }),
  }),
  "call-denied": () => ({
    settings: SETTINGS,
    snapshot: fixtures.calling(NOW),
    media: staticMedia({ hasMic: false, notes: [{ kind: "denied", video: true, reason: { kind: "denied", message: "" } }], peers: [peerView("bob", paintedCamera("bob", 200), { hasVideo: true })] }),
  }),
  "call-sound-blocked": () => ({ settings: SETTINGS, snapshot: fixtures.callingVoice(NOW), media: staticMedia({ playBlocked: true, peers: [peerView("bob", silent())] }) }),
  "call-unsupported": () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW), media: staticMedia({ supported: false }) }),
  "waiting-video": () => ({
    settings: SETTINGS,
    snapshot: { ...fixtures.waitingRinging(NOW), call: { ...fixtures.waitingRinging(NOW).call!, callType: "video" } },
    media: staticMedia({ local: cams().me, cameraOn: true }),
  }),
  "call-live": () => ({
    settings: SETTINGS,
    snapshot: { ...fixtures.calling(NOW), call: { ...fixtures.calling(NOW).call!, callId: CALL_LIVE, startedAt: Date.now() } },
    live: true,
  }),
  incoming: () => ({ settings: SETTINGS, snapshot: fixtures.incomingVideo(NOW) }),
  popup: () => ({ settings: SETTINGS, snapshot: fixtures.incoming(NOW), popup: true }),
  "popup-video": () => ({ settings: SETTINGS, snapshot: fixtures.incomingVideo(NOW), popup: true }),
  "popup-group": () => ({ settings: SETTINGS, snapshot: fixtures.incomingGroup(NOW), popup: true }),
  "popup-accepting": () => ({ settings: SETTINGS, snapshot: fixtures.incomingAccepting(NOW), popup: true }),
};

function index(): void {
  const root = document.getElementById("app");
  if (!root) return;
  const links = Object.keys(SCENES).map((k) => html`<li><a href="?page=${k}">${k}</a></li>`);
  const banners = [...ALL_OUTCOMES.map((o) => o.kind), "mediaLost"].map((k) => html`<li><a href="?page=banner&outcome=${k}">${k}</a></li>`);
  render(
    html`<main class="page"><div class="card"><h1>Beckon preview</h1><ul>${links}</ul><h2>Finished banners</h2><ul>${banners}</ul></div></main>`,
    root,
  );
}

async function run(scene: Scene): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  // `&name=`: a long caller / first member name, to check how names are cut.
  const name = params.get("name");
  const c = scene.snapshot?.call;
  if (name !== null && c) {
    c.callerName = name;
    if (c.peers[0]) c.peers[0].name = name;
  }
  let state = { settings: scene.settings, snapshot: scene.snapshot };
  const t = new FakeTransport();
  const emit = (u: Update) => {
    state = { ...state, snapshot: u.snapshot };
    t.emit(EVENT_UPDATE, u);
  };
  const finish = (outcome: Outcome) => {
    const call = state.snapshot?.call ?? finishedCall(outcome, Date.now());
    emit({ notice: { kind: "finished", outcome, call }, snapshot: snapshot() });
  };
  t.handlers = {
    app_state: () => state,
    history: () => (scene.empty ? [] : scene.history ? scene.history() : history(NOW)),
    save_settings: (a) => {
      state = { settings: a?.settings as Settings, snapshot: state.snapshot ?? snapshot() };
    },
    call: (a) => {
      const users = (a?.users as string[]) ?? [];
      const snap = fixtures.waitingRinging(Date.now());
      if (snap.call) snap.call.peers = users.map((u) => ({ userId: u, name: u, state: "received", reason: null }));
      if (snap.call) snap.call.group = users.length > 1;
      emit({ notice: { kind: "changed" }, snapshot: snap });
    },
    cancel: () => finish({ kind: "cancelled" }),
    decline: () => finish({ kind: "rejected" }),
    hang_up: () => finish({ kind: "hungUp" }),
    leave: () => finish({ kind: "left" }),
    end_call: () => finish({ kind: "hungUp" }),
    accept: () => emit({ notice: { kind: "changed" }, snapshot: fixtures.callingVoice(Date.now()) }),
  };
  if (scene.live) live(t, () => state.snapshot, finish);
  if (scene.seenAt !== undefined) localStorage.setItem(`beckon.missedSeenAt.${SETTINGS.userId}`, String(scene.seenAt));
  if (scene.sounds) localStorage.setItem(SOUND_PREFS_KEY, JSON.stringify(scene.sounds));
  const kind = scene.popup ? "popup" : "main";
  document.documentElement.dataset.window = kind;
  const app = new App({ api: createApi(t), root, kind, ownBannerMs: 600_000, toastMs: 600_000, ...(scene.media ? { createMedia: scene.media } : {}) });
  (window as unknown as { beckonPreview: unknown }).beckonPreview = { app, transport: t };
  if (app.media) installDiagnostics(window, app.media);
  await app.start();
  if (scene.swapped) await app.act("swap-video");
  if (params.has("probe")) void probe(app);
  if (scene.edit) await app.act("edit-settings");
  if (scene.playing) await app.act("preview-ringtone");
  if (scene.devicesOpen) await app.act("devices");
  // `&toast=text`: where toasts land on this page.
  const toast = params.get("toast");
  if (toast !== null) app.toast(toast, "info");
  // `&dial=IDs`: types them into the ID box and presses Voice call (the box's checks).
  const dial = params.get("dial");
  if (dial !== null) {
    app.model.dialText = dial;
    await app.act("call");
  }
  if (scene.outcome) {
    const o = scene.outcome;
    t.emit(EVENT_UPDATE, { notice: { kind: "finished", outcome: o, call: finishedCall(o, Date.now()) }, snapshot: snapshot() });
  }
}

/**
 * Real WebRTC both ways in one page: the window is alice; bob is a second controller
 * whose signals come back to the window as `signal` notices, as the host would send.
 */
function live(t: FakeTransport, current: () => Snapshot | null, finish: (o: Outcome) => void): void {
  const bobSnap = (phase: Snapshot["phase"]): Snapshot =>
    snapshot({
      userId: "bob",
      userName: "bob",
      phase,
      call: phase === "free" ? null : incomingCall(Date.now(), { callId: CALL_LIVE, callerId: "alice", callerName: "Alice Martin", callType: "video", peers: [member("alice", "Alice Martin", "accepted")], startedAt: Date.now() }),
    });
  const clone = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;
  const bobT = new FakeTransport({
    ice_config: () => ({ iceServers: [], iceTransportPolicy: "all", expiresAt: null }),
    signal: (a) => {
      const payload = clone(a?.payload);
      setTimeout(() => {
        const snap = current();
        if (snap) t.emit(EVENT_UPDATE, { notice: { kind: "signal", callId: CALL_LIVE, fromUserId: "bob", payload }, snapshot: snap } satisfies Update);
      }, 0);
    },
  });
  const bob = new MediaController({ api: createApi(bobT), log: (m, d) => console.info(`[bob] ${m}`, d ?? "") });
  (window as unknown as { beckonBob: unknown }).beckonBob = bob;
  bob.sync(bobSnap("inCall"));
  const end = (o: Outcome) => {
    bob.sync(bobSnap("free"));
    finish(o);
  };
  // `&turn=refused`: the window relays only through a TURN server that never answers, so
  // its connection never leaves "new" and the connect timer ends the call.
  const refused = params.get("turn") === "refused";
  Object.assign(t.handlers, {
    ice_config: () =>
      refused
        ? { iceServers: [{ urls: ["turn:127.0.0.1:3479?transport=udp"], username: "nobody", credential: "wrong" }], iceTransportPolicy: "relay", expiresAt: null }
        : { iceServers: [], iceTransportPolicy: "all", expiresAt: null },
    signal: (a?: Record<string, unknown>) => {
      const payload = clone(a?.payload);
      setTimeout(() => bob.onSignal({ callId: CALL_LIVE, fromUserId: "alice", payload }), 0);
    },
    media_failed: (a?: Record<string, unknown>) => end({ kind: "mediaFailed", problem: a?.problem === "couldNotConnect" ? "couldNotConnect" : "connectionLost" }),
    hang_up: () => end({ kind: "hungUp" }),
  });
}

/**
 * `&probe`: for headless runs without WebDriver (chromium --dump-dom). Writes the media
 * stats of both sides into <pre>s once connected, then hangs up and writes them again.
 */
async function probe(app: App): Promise<void> {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const bob = (window as unknown as { beckonBob?: MediaController }).beckonBob;
  const dump = async (id: string) => {
    const pre = document.createElement("pre");
    pre.id = id;
    pre.textContent = JSON.stringify({ alice: await app.media?.stats(), bob: await bob?.stats() });
    document.body.append(pre);
  };
  await wait(Number(params.get("probe")) || 4000);
  await dump("probe-connected");
  await app.act("hang-up");
  await wait(300);
  await dump("probe-ended");
}

const scene = page ? SCENES[page] : undefined;
if (scene) void run(scene());
else index();
