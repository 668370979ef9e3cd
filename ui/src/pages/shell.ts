// Pieces shared by the pages: the top bar with the connection pill, avatars, pills.
import { html, nothing, type TemplateResult } from "lit-html";
import { avatarHue, connectionStatus, formatDuration, initials, type Tone } from "../format";
import { icon } from "../icons";
import type { Connection } from "../types";

export type AvatarSize = "sm" | "md" | "lg" | "xl";

export function avatar(name: string, key: string, size: AvatarSize = "md", extra = ""): TemplateResult {
  return html`<span class="avatar avatar-${size} hue-${String(avatarHue(key || name))}${extra ? ` ${extra}` : ""}" aria-hidden="true">${initials(name || key)}</span>`;
}

export function pill(text: string, tone: Tone, extra: TemplateResult | string = ""): TemplateResult {
  return html`<span class="pill pill-${tone}">${extra}${text}</span>`;
}

export function connectionPill(connection: Connection): TemplateResult {
  const s = connectionStatus(connection);
  return html`<span class="pill pill-${s.tone} conn-pill" role="status" data-conn="${connection.state}" title="${s.detail}" aria-label="Connection: ${s.detail}"><span class="dot" aria-hidden="true"></span>${s.text}</span>`;
}

/**
 * Do not disturb: a toggle on home (where calls start and arrive), a line everywhere else
 * it is on, so nobody wonders why their phone stays quiet.
 */
function doNotDisturb(on: boolean, toggle: boolean): TemplateResult | typeof nothing {
  if (toggle)
    return html`<button type="button" class="btn btn-ghost btn-small dnd-toggle${on ? " is-on" : ""}" data-action="toggle-dnd" aria-pressed="${on ? "true" : "false"}"
      title="${on ? "Do not disturb is on: calls to you are declined as busy, without ringing. Click to turn it off." : "Turn on do not disturb: calls to you are declined as busy, without ringing."}">
      ${icon("moon")}<span>${on ? "Do not disturb" : "Available"}</span></button>`;
  return on ? html`<span class="pill pill-warn dnd-pill" title="Calls to you are declined as busy, without ringing">${icon("moon")}Do not disturb</span>` : nothing;
}

export function topBar(opts: { connection: Connection | null; showSettings: boolean; doNotDisturb?: boolean; title?: string }): TemplateResult {
  return html`<header class="topbar">
    <div class="brand"><span class="brand-mark" aria-hidden="true">${icon("phone")}</span><span class="brand-name">Beckon</span></div>
    <div class="topbar-right">
      ${opts.doNotDisturb !== undefined ? doNotDisturb(opts.doNotDisturb, opts.showSettings) : nothing}
      ${opts.connection ? connectionPill(opts.connection) : nothing}
      ${opts.showSettings
        ? html`<button type="button" class="icon-btn" data-action="edit-settings" aria-label="Settings" title="Settings">${icon("settings")}</button>`
        : nothing}
    </div>
  </header>`;
}

/** An elapsed-time display; the app re-renders every second to keep it current. */
export function since(startMs: number, now: number, cls = ""): TemplateResult {
  return html`<span class="since${cls ? ` ${cls}` : ""}" data-since="${String(startMs)}" role="timer" aria-live="off">${formatDuration(now - startMs)}</span>`;
}
