import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import { icon } from "../icons";
import { idProblem } from "../ids";
import { RINGTONES, type SoundPrefs } from "../sounds";
import type { MediaView } from "../media/controller";
import type { Settings } from "../types";
import { devicesCard } from "./devices";

export const DEFAULT_SERVER_URL = "ws://127.0.0.1:7070/ws";

/** The form's text, as typed (view-local). */
export type SettingsDraft = { serverUrl: string; userId: string; userName: string; token: string };

export type SettingsView = {
  /** First run: nothing saved yet. Edit: opened from home. */
  mode: "first" | "edit";
  draft: SettingsDraft;
  saving: boolean;
  /** The problem with the last try, and the field it is about (null: the form as a whole). */
  error: string | null;
  errorField: keyof SettingsDraft | null;
  /** Saved settings exist but signing in with them did not give a snapshot. */
  notSignedIn: boolean;
  /** There is a home to go back to. */
  canCancel: boolean;
  /** This installation's sound preferences, and whether Play is on. */
  sounds: SoundPrefs;
  previewing: boolean;
  /** Whether the app starts with the computer; null where that is not a setting (a browser). */
  startAtLogin?: boolean | null;
  /** The main window's media, for the Devices card (none in a window without media). */
  media?: MediaView | null;
};

export function draftFrom(settings: Settings | null): SettingsDraft {
  return settings
    ? {
        serverUrl: settings.serverUrl,
        userId: settings.userId,
        userName: settings.userName,
        token: settings.token ?? "",
      }
    : { serverUrl: DEFAULT_SERVER_URL, userId: "", userName: "", token: "" };
}

/**
 * Trims the draft; returns the settings to try or the first problem the page can see by
 * itself. The host checks the rest (the address it converts and completes, the limits)
 * and then tries to sign in, and names the field at fault.
 */
export function settingsFromDraft(d: SettingsDraft): { settings: Settings } | { error: string; field: keyof SettingsDraft } {
  const serverUrl = d.serverUrl.trim();
  const userId = d.userId.trim();
  const userName = d.userName.trim();
  const token = d.token.trim();
  if (!serverUrl) return { error: "Type your server's address, e.g. " + DEFAULT_SERVER_URL, field: "serverUrl" };
  if (!userId) return { error: "Choose a user ID: it's what others type to call you.", field: "userId" };
  const problem = idProblem(userId);
  if (problem) return { error: problem, field: "userId" };
  return { settings: { serverUrl, userId, userName: userName || userId, token: token || null } };
}

function field(
  id: string,
  name: keyof SettingsDraft,
  label: string,
  value: string,
  opts: { type?: string; placeholder?: string; hint?: string; required?: boolean; autocomplete?: string; error?: string | null },
): TemplateResult {
  const hintId = opts.hint ? `${id}-hint` : "";
  const errorId = opts.error ? `${id}-error` : "";
  const describedBy = [errorId, hintId].filter(Boolean).join(" ");
  return html`<div class="field">
    <label for="${id}">${label}${opts.required ? nothing : html` <span class="optional">(optional)</span>`}</label>
    <input id="${id}" name="${name}" data-field="${name}" type="${opts.type ?? "text"}" .value=${live(value)}
      placeholder="${opts.placeholder ?? ""}" autocomplete="${opts.autocomplete ?? "off"}" spellcheck="false"
      ?required=${opts.required ?? false} aria-required=${opts.required ? "true" : nothing}
      aria-invalid=${opts.error ? "true" : nothing} aria-describedby=${describedBy || nothing} />
    ${opts.error ? html`<p class="field-error" id="${errorId}" role="alert">${opts.error}</p>` : nothing}
    ${opts.hint ? html`<p class="hint" id="${hintId}">${opts.hint}</p>` : nothing}
  </div>`;
}

/**
 * Its own card, outside the form: these apply as they change and belong to this
 * installation, so "Save and sign in" has nothing to do with them.
 */
function soundsCard(p: SoundPrefs, previewing: boolean): TemplateResult {
  const level = `${p.volume} %`;
  return html`<section class="card settings-card sounds-card" aria-labelledby="sounds-title" aria-describedby="sounds-lead">
    <div class="settings-head">
      <h2 id="sounds-title">Sounds</h2>
      <p class="lead" id="sounds-lead">How Beckon rings on this computer. Changes apply at once and need no saving: they aren't part of your account.</p>
    </div>
    <fieldset class="field choices">
      <legend>Ringtone</legend>
      <div class="choice-row">
        ${RINGTONES.map(
          (t) => html`<label class="choice"><input type="radio" name="ringtone" value="${t.id}" data-field="soundRingtone" .checked=${live(p.ringtone === t.id)} />${t.label}</label>`,
        )}
      </div>
    </fieldset>
    <div class="field">
      <label for="set-volume">Ring volume</label>
      <div class="volume-row">
        ${icon("volume", "icon-sm volume-icon")}
        <input id="set-volume" type="range" min="0" max="100" step="5" data-field="soundVolume" .value=${live(String(p.volume))}
          aria-valuetext="${p.volume === 0 ? `${level}, silent` : level}" aria-describedby="set-volume-hint" />
        <span class="volume-value" aria-hidden="true">${level}</span>
      </div>
      <p class="hint" id="set-volume-hint">${p.volume === 0
        ? "Silent: an incoming call still opens its window, without sound."
        : "For the ringtone of incoming calls and the tone you hear while calling."}</p>
    </div>
    <div class="sound-actions">
      <button type="button" class="btn btn-small btn-soft" data-action="preview-ringtone"
        aria-label="${previewing ? "Stop the ringtone" : "Play the ringtone"}">${icon(previewing ? "stop" : "play", "icon-sm")}${previewing ? "Stop" : "Play"}</button>
    </div>
  </section>`;
}

/** Desktop only: how the app starts. Applied at once, like the sounds. */
function startCard(on: boolean): TemplateResult {
  return html`<section class="card settings-card start-card" aria-labelledby="start-title">
    <div class="settings-head"><h2 id="start-title">On this computer</h2></div>
    <label class="check">
      <input type="checkbox" data-field="startAtLogin" .checked=${live(on)} aria-describedby="start-hint" />
      Start Beckon when I sign in to this computer
    </label>
    <p class="hint" id="start-hint">It starts in the tray, ready to ring, without opening a window.</p>
  </section>`;
}

export function renderSettings(v: SettingsView): TemplateResult {
  const first = v.mode === "first";
  const errorAt = (name: keyof SettingsDraft) => (v.errorField === name ? v.error : null);
  return html`<main class="page page-settings" data-page="settings" data-mode="${v.mode}">
    <form class="card settings-card" data-form="settings" novalidate aria-labelledby="settings-title">
      <div class="settings-head">
        <h1 id="settings-title">${first ? "Welcome to Beckon" : "Settings"}</h1>
        <p class="lead">${first
          ? "Sign in to your team's Beckon server to start calling. You can change this later."
          : "Your profile and the server you sign in to. Saving signs in again."}</p>
      </div>
      ${v.notSignedIn ? html`<p class="note note-warn" role="status">You're not signed in. Check the details below and sign in again.</p>` : nothing}
      ${field("set-server", "serverUrl", "Server URL", v.draft.serverUrl, {
        placeholder: DEFAULT_SERVER_URL,
        required: true,
        type: "url",
        hint: "Ask whoever runs your Beckon server. An http:// address or host:port works too.",
        error: errorAt("serverUrl"),
      })}
      <div class="field-row">
        ${field("set-user", "userId", "User ID", v.draft.userId, {
          placeholder: "e.g. alice",
          required: true,
          hint: "Others call you by this ID.",
          error: errorAt("userId"),
          autocomplete: "username",
        })}
        ${field("set-name", "userName", "Display name", v.draft.userName, {
          placeholder: "e.g. Alice Martin",
          hint: "Shown to the people you call. Defaults to your user ID.",
          error: errorAt("userName"),
          autocomplete: "name",
        })}
      </div>
      ${field("set-token", "token", "Access token", v.draft.token, {
        type: "password",
        placeholder: "Leave empty for an open server",
        hint: "Only needed if your server requires tokens.",
        error: errorAt("token"),
      })}
      ${v.error && !v.errorField ? html`<p class="note note-bad" role="alert" id="settings-error">${v.error}</p>` : nothing}
      <div class="form-actions">
        ${first
          ? nothing
          : html`<button type="button" class="btn btn-ghost btn-sign-out" data-action="sign-out" ?disabled=${v.saving}
              title="Forget this account on this computer; calls to you no longer ring here">Sign out</button>`}
        ${v.canCancel
          ? html`<button type="button" class="btn btn-ghost" data-action="cancel-settings">Cancel</button>`
          : nothing}
        <button type="submit" class="btn btn-primary" ?disabled=${v.saving} aria-busy=${v.saving ? "true" : nothing}>
          ${v.saving ? "Signing in…" : first ? "Sign in" : "Save and sign in"}
        </button>
      </div>
    </form>
    ${soundsCard(v.sounds, v.previewing)}
    ${devicesCard(v.media)}
    ${v.startAtLogin == null ? nothing : startCard(v.startAtLogin)}
  </main>`;
}
