// Which page a window shows, and the whole window's template, from the model alone.
import { html, type TemplateResult } from "lit-html";
import { callPartyLabel, formatDuration } from "./format";
import type { MediaView } from "./media/controller";
import type { Banner } from "./outcome";
import { renderCalling } from "./pages/calling";
import { renderHome } from "./pages/home";
import { renderIncoming, renderNoIncoming } from "./pages/incoming";
import { renderSettings, type SettingsDraft } from "./pages/settings";
import { topBar } from "./pages/shell";
import { renderWaiting } from "./pages/waiting";
import { DEFAULT_SOUND_PREFS, type SoundPrefs } from "./sounds";
import type { HistoryEntry, Settings, Snapshot } from "./types";

export type WindowKind = "main" | "popup";

/** Everything a window renders from: the host's state plus view-local bits. */
export type Model = {
  /** app_state() has answered (or an update arrived). */
  loaded: boolean;
  settings: Settings | null;
  snapshot: Snapshot | null;
  // View-local:
  editingSettings: boolean;
  draft: SettingsDraft | null;
  saving: boolean;
  settingsError: string | null;
  /** The settings field `settingsError` is about; null for the form as a whole. */
  settingsErrorField: keyof SettingsDraft | null;
  dialText: string;
  dialError: string | null;
  inviteText: string;
  inviteError: string | null;
  history: HistoryEntry[] | null;
  historyError: string | null;
  /** Missed calls newer than this are counted on home (null: no mark yet). */
  missedSince: number | null;
  banner: Banner | null;
  busy: string | null;
  /** The media module's state, refreshed before every render (null: this window carries none). */
  media: MediaView | null;
  /** The local preview is the big video (clicked to swap). */
  videoSwapped: boolean;
  /** The call's Devices popover is open. */
  devicesOpen: boolean;
  /** This installation's ringtone and volume, as stored (beckon.sounds). */
  soundPrefs: SoundPrefs;
  /** The settings page's Play is on: the ringtone sounds until Stop or leaving the page. */
  soundPreview: boolean;
  /** Whether the app starts with the computer, as the host last said; null: not a setting here. */
  startAtLogin: boolean | null;
};

export function emptyModel(): Model {
  return {
    loaded: false,
    settings: null,
    snapshot: null,
    editingSettings: false,
    draft: null,
    saving: false,
    settingsError: null,
    settingsErrorField: null,
    dialText: "",
    dialError: null,
    inviteText: "",
    inviteError: null,
    history: null,
    historyError: null,
    missedSince: null,
    banner: null,
    busy: null,
    media: null,
    videoSwapped: false,
    devicesOpen: false,
    soundPrefs: { ...DEFAULT_SOUND_PREFS },
    soundPreview: false,
    startAtLogin: null,
  };
}

export type PageName = "loading" | "settings" | "home" | "waiting" | "calling" | "incoming" | "incoming-idle";

export function pageFor(m: Model, kind: WindowKind): PageName {
  if (!m.loaded) return "loading";
  const s = m.snapshot;
  if (kind === "popup") return s && s.phase === "incoming" && s.call ? "incoming" : "incoming-idle";
  if (!s || !m.settings || m.editingSettings) return "settings";
  switch (s.phase) {
    case "free":
      return "home";
    case "outgoing":
      return s.call ? "waiting" : "home";
    case "incoming":
      return s.call ? "incoming" : "home";
    case "inCall":
      return s.call ? "calling" : "home";
  }
}

export function renderWindow(m: Model, kind: WindowKind, now: number): TemplateResult {
  const page = pageFor(m, kind);
  const s = m.snapshot;
  const call = s?.call ?? null;
  if (kind === "popup") {
    return page === "incoming" && call ? renderIncoming({ call, compact: true, busy: m.busy }) : renderNoIncoming();
  }
  let body: TemplateResult;
  switch (page) {
    case "loading":
      body = html`<main class="page page-loading" data-page="loading" aria-busy="true"><p>Starting Beckon…</p></main>`;
      break;
    case "settings":
      body = renderSettings({
        mode: m.settings ? "edit" : "first",
        draft: m.draft ?? { serverUrl: "", userId: "", userName: "", token: "" },
        saving: m.saving,
        error: m.settingsError,
        errorField: m.settingsErrorField,
        notSignedIn: m.settings !== null && s === null,
        canCancel: m.settings !== null && s !== null,
        sounds: m.soundPrefs,
        previewing: m.soundPreview,
        startAtLogin: m.startAtLogin,
        media: m.media,
      });
      break;
    case "home":
      body = renderHome({
        snapshot: s as Snapshot,
        dialText: m.dialText,
        dialError: m.dialError,
        history: m.history,
        historyError: m.historyError,
        missedSince: m.missedSince,
        banner: m.banner,
        busy: m.busy,
        now,
      });
      break;
    case "waiting":
      body = renderWaiting({ call: call!, busy: m.busy, now, media: m.media });
      break;
    case "calling":
      body = renderCalling({
        call: call!,
        selfId: s!.userId,
        selfName: s!.userName,
        devicesOpen: m.devicesOpen,
        inviteText: m.inviteText,
        inviteError: m.inviteError,
        busy: m.busy,
        now,
        media: m.media,
        swapped: m.videoSwapped,
      });
      break;
    case "incoming":
      body = renderIncoming({ call: call!, compact: false, busy: m.busy });
      break;
    default:
      body = renderNoIncoming();
  }
  const onCallPage = page === "waiting" || page === "calling" || page === "incoming";
  return html`<div class="shell${onCallPage ? " shell-dark" : ""}">
    ${topBar({ connection: s?.connection ?? null, showSettings: page === "home", doNotDisturb: s?.doNotDisturb })}
    ${body}
  </div>`;
}

/**
 * The window title: the OS task bar and window switcher show who the call is with and
 * how long it has run (the app re-renders, and so re-titles, every second).
 */
export function windowTitle(m: Model, kind: WindowKind, now: number): string {
  const call = m.snapshot?.call;
  const page = pageFor(m, kind);
  if (page === "incoming" && call) return `Incoming call — ${call.callerName || call.callerId}`;
  if (page === "waiting" && call) return `Calling ${callPartyLabel(call)}…`;
  if (page === "calling" && call)
    return `In call with ${callPartyLabel(call)}${call.startedAt !== null ? ` — ${formatDuration(now - call.startedAt)}` : ""}`;
  return "Beckon";
}
