// Dev-only preview harness: renders any page from a fixture snapshot over a fake
// transport. `npm run dev`, then open /preview.html (the index lists every page).
// Never part of the production build (vite builds index.html only).
import "./styles.css";
import { html, render } from "lit-html";
import { createApi, EVENT_UPDATE } from "./api";
import { App } from "./app";
import { FakeTransport } from "./fake-transport";
import { ALL_OUTCOMES, CONNECTED, DISCONNECTED, RECONNECTING, SETTINGS, finishedCall, fixtures, history, snapshot } from "./fixtures";
import type { Connection, Outcome, Settings, Snapshot, Update } from "./types";

const params = new URLSearchParams(location.search);
const page = params.get("page");
const NOW = Date.now();

type Scene = { settings: Settings | null; snapshot: Snapshot | null; popup?: boolean; edit?: boolean; outcome?: Outcome; empty?: boolean };

const conn = (c: Connection): Snapshot => snapshot({ connection: c });

const SCENES: Record<string, () => Scene> = {
  "settings-first": () => ({ settings: null, snapshot: null }),
  settings: () => ({ settings: SETTINGS, snapshot: snapshot(), edit: true }),
  home: () => ({ settings: SETTINGS, snapshot: conn(CONNECTED) }),
  "home-reconnecting": () => ({ settings: SETTINGS, snapshot: conn(RECONNECTING) }),
  "home-offline": () => ({ settings: SETTINGS, snapshot: conn(DISCONNECTED) }),
  "home-empty": () => ({ settings: SETTINGS, snapshot: conn(CONNECTED), empty: true }),
  banner: () => {
    const kind = params.get("outcome") ?? "declined";
    return { settings: SETTINGS, snapshot: snapshot(), outcome: ALL_OUTCOMES.find((o) => o.kind === kind) ?? { kind: "declined" } };
  },
  waiting: () => ({ settings: SETTINGS, snapshot: fixtures.waitingRinging(NOW) }),
  "waiting-placing": () => ({ settings: SETTINGS, snapshot: fixtures.waitingPlacing(NOW) }),
  "waiting-offline": () => ({ settings: SETTINGS, snapshot: fixtures.waitingOffline(NOW) }),
  "waiting-group": () => ({ settings: SETTINGS, snapshot: fixtures.waitingGroup(NOW) }),
  calling: () => ({ settings: SETTINGS, snapshot: fixtures.calling(NOW) }),
  "calling-voice": () => ({ settings: SETTINGS, snapshot: fixtures.callingVoice(NOW) }),
  "calling-group": () => ({ settings: SETTINGS, snapshot: fixtures.callingGroup(NOW) }),
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
  const banners = ALL_OUTCOMES.map((o) => html`<li><a href="?page=banner&outcome=${o.kind}">${o.kind}</a></li>`);
  render(
    html`<main class="page"><div class="card"><h1>Beckon preview</h1><ul>${links}</ul><h2>Finished banners</h2><ul>${banners}</ul></div></main>`,
    root,
  );
}

async function run(scene: Scene): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
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
    history: () => (scene.empty ? [] : history(NOW)),
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
  const kind = scene.popup ? "popup" : "main";
  document.documentElement.dataset.window = kind;
  const app = new App({ api: createApi(t), root, kind, ownBannerMs: 600_000 });
  (window as unknown as { beckonPreview: unknown }).beckonPreview = { app, transport: t };
  await app.start();
  if (scene.edit) await app.act("edit-settings");
  if (scene.outcome) {
    const o = scene.outcome;
    t.emit(EVENT_UPDATE, { notice: { kind: "finished", outcome: o, call: finishedCall(o, Date.now()) }, snapshot: snapshot() });
  }
}

const scene = page ? SCENES[page] : undefined;
if (scene) void run(scene());
else index();
