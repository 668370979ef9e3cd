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

export function topBar(opts: { connection: Connection | null; showSettings: boolean; title?: string }): TemplateResult {
  return html`<header class="topbar">
    <div class="brand"><span class="brand-mark" aria-hidden="true">${icon("phone")}</span><span class="brand-name">Beckon</span></div>
    <div class="topbar-right">
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
