// Typed commands and events over a Transport. Names and argument keys are the contract
// with src-tauri: Rust fns in snake_case, argument keys in camelCase.
import type { HostUpdate, IceConfig, MediaProblem } from "./media/host";
import type { Transport, Unlisten } from "./transport";
import type { ApiError, AppState, CallControl, CallType, CommandErrorKind, HistoryEntry, Settings, SettingsField } from "./types";

export const EVENT_UPDATE = "beckon://update";
export const EVENT_SETTINGS = "beckon://settings";
export const EVENT_CONTROL = "beckon://control";

export interface Api {
  appState(): Promise<AppState>;
  saveSettings(settings: Settings): Promise<void>;
  /** Signs out and forgets the account on this computer. */
  signOut(): Promise<void>;
  /** While on, calls to this user are declined as busy, without ringing. */
  setDoNotDisturb(on: boolean): Promise<void>;
  /** Whether the app starts when the user signs in to the computer; null in a browser. */
  startAtLogin(): Promise<boolean | null>;
  setStartAtLogin(on: boolean): Promise<void>;
  call(users: string[], callType: CallType): Promise<void>;
  cancel(): Promise<void>;
  accept(callId: string): Promise<void>;
  decline(callId: string): Promise<void>;
  hangUp(): Promise<void>;
  inviteMore(users: string[]): Promise<void>;
  leave(): Promise<void>;
  endCall(): Promise<void>;
  history(count: number): Promise<HistoryEntry[]>;
  /** TURN/STUN for the call about to carry media; the host refreshes TURN credentials. */
  iceConfig(): Promise<IceConfig>;
  /** Relays a media payload (SDP, ICE candidate) to `toUserId`'s device in this call. */
  signal(callId: string, toUserId: string, payload: unknown): Promise<void>;
  /** Ends the call for this user because its media could not be carried. */
  mediaFailed(callId: string, problem: MediaProblem): Promise<void>;
  /** Opens the calls page in the system browser (webviews without WebRTC). */
  openInBrowser(): Promise<void>;
  /** Titles this window for the task bar and window switcher (a browser tab ignores it). */
  setWindowTitle(title: string): Promise<void>;
  /** Puts this window away, as closing it does: Beckon stays in the tray (a browser tab stays). */
  hideWindow(): Promise<void>;
  /** Tells the host whether the microphone is muted (the tray's Mute item follows it). */
  setMuted(muted: boolean): Promise<void>;
  onUpdate(handler: (update: HostUpdate) => void): Promise<Unlisten>;
  onSettings(handler: (settings: Settings | null) => void): Promise<Unlisten>;
  /** What the tray asks of the page that carries the call's media. */
  onControl(handler: (control: CallControl) => void): Promise<Unlisten>;
}

/** A sentence for each kind the host sends, for a rejection that came without one. */
const DESCRIPTIONS: Record<CommandErrorKind, string> = {
  notSignedIn: "Open Settings and sign in first.",
  notNow: "That can't be done right now.",
  invalid: "Check what you typed.",
  server: "The server refused that.",
  offline: "Can't reach the server right now.",
  io: "Couldn't read or save the settings.",
};

function isCommandErrorKind(kind: unknown): kind is CommandErrorKind {
  return typeof kind === "string" && Object.prototype.hasOwnProperty.call(DESCRIPTIONS, kind);
}

/**
 * Turns whatever a command rejected with into `{ kind, message }`. A kind the host does
 * not send (a rejection from the IPC layer itself, say) becomes `error`.
 */
export function toApiError(error: unknown): ApiError {
  if (error && typeof error === "object") {
    const e = error as { kind?: unknown; message?: unknown; field?: unknown };
    const kind = isCommandErrorKind(e.kind) ? e.kind : "error";
    const message = typeof e.message === "string" && e.message ? e.message : describeKind(kind);
    if (kind === "error") return { kind, message };
    return { kind, message, field: isSettingsField(e.field) ? e.field : null };
  }
  if (typeof error === "string" && error) return { kind: "error", message: error };
  return { kind: "error", message: describeKind("error") };
}

const SETTINGS_FIELDS: readonly SettingsField[] = ["serverUrl", "userId", "userName", "token"];

function isSettingsField(field: unknown): field is SettingsField {
  return SETTINGS_FIELDS.includes(field as SettingsField);
}

function describeKind(kind: ApiError["kind"]): string {
  return kind === "error" ? "Something went wrong." : DESCRIPTIONS[kind];
}

export function createApi(t: Transport): Api {
  const run = async <T>(command: string, args?: Record<string, unknown>): Promise<T> => {
    try {
      return await t.invoke<T>(command, args);
    } catch (error) {
      throw toApiError(error);
    }
  };
  return {
    appState: () => run<AppState>("app_state"),
    saveSettings: (settings) => run<void>("save_settings", { settings }),
    signOut: () => run<void>("sign_out"),
    setDoNotDisturb: (on) => run<void>("set_do_not_disturb", { on }),
    startAtLogin: () => run<boolean | null>("start_at_login"),
    setStartAtLogin: (on) => run<void>("set_start_at_login", { on }),
    call: (users, callType) => run<void>("call", { users, callType }),
    cancel: () => run<void>("cancel"),
    accept: (callId) => run<void>("accept", { callId }),
    decline: (callId) => run<void>("decline", { callId }),
    hangUp: () => run<void>("hang_up"),
    inviteMore: (users) => run<void>("invite_more", { users }),
    leave: () => run<void>("leave"),
    endCall: () => run<void>("end_call"),
    history: (count) => run<HistoryEntry[]>("history", { count }),
    iceConfig: () => run<IceConfig>("ice_config"),
    signal: (callId, toUserId, payload) => run<void>("signal", { callId, toUserId, payload }),
    mediaFailed: (callId, problem) => run<void>("media_failed", { callId, problem }),
    openInBrowser: () => run<void>("open_in_browser"),
    setWindowTitle: (title) => run<void>("set_window_title", { title }),
    hideWindow: () => run<void>("hide_window"),
    onUpdate: (handler) => t.listen<HostUpdate>(EVENT_UPDATE, handler),
    setMuted: (muted) => run<void>("set_muted", { muted }),
    onSettings: (handler) => t.listen<Settings | null>(EVENT_SETTINGS, handler),
    onControl: (handler) => t.listen<CallControl>(EVENT_CONTROL, handler),
  };
}
