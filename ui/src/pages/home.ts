import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import { repeat } from "lit-html/directives/repeat.js";
import { formatWhen } from "../format";
import { icon } from "../icons";
import type { Banner } from "../outcome";
import { missedSince, recentRows, type RecentRow } from "../recents";
import type { HistoryEntry, Snapshot } from "../types";
import { avatar } from "./shell";

export type HomeView = {
  snapshot: Snapshot;
  /** The ID box's text (view-local). */
  dialText: string;
  dialError: string | null;
  /** null while the first load is on its way. */
  history: HistoryEntry[] | null;
  historyError: string | null;
  /** Missed calls newer than this have the badge's count (null: none counted). */
  missedSince: number | null;
  banner: Banner | null;
  /** An action the user started that has not answered yet. */
  busy: string | null;
  now: number;
};

function bannerView(b: Banner, offline: boolean): TemplateResult {
  const ic = b.tone === "bad" ? "missed" : b.tone === "warn" ? "alert" : "info";
  const redial = b.redial
    ? html`<button type="button" class="btn btn-small btn-soft" data-action="call-back"
        data-users="${b.redial.users.join(",")}" data-type="${b.redial.callType}" ?disabled=${offline}>${icon(b.redial.callType === "video" ? "video" : "phone")}${b.kind === "cancelledByCaller" || b.kind === "missed" ? "Call back" : "Call again"}</button>`
    : nothing;
  return html`<section class="banner banner-${b.tone}${b.faded ? " banner-faded" : ""}" role="${b.tone === "info" ? "status" : "alert"}" data-outcome="${b.kind}"
    aria-hidden=${b.faded ? "true" : nothing} ?inert=${b.faded ?? false}>
    <span class="banner-icon">${icon(ic)}</span>
    <div class="banner-text"><strong class="banner-title">${b.title}</strong><span class="banner-detail">${b.detail}</span></div>
    <div class="banner-actions">${redial}<button type="button" class="icon-btn icon-btn-small" data-action="dismiss-banner" aria-label="Dismiss">${icon("close")}</button></div>
  </section>`;
}

/**
 * Calls are placed by the server: while the app is not connected, a call fails at once
 * (nothing queues it), so home offers none until the connection is back.
 */
export function canCall(s: Snapshot): boolean {
  return s.connection.state === "connected";
}

const CALL_WHEN_BACK = "you can call once Beckon reconnects";

function connectionNote(s: Snapshot): TemplateResult | typeof nothing {
  const c = s.connection;
  if (c.state === "connected") return nothing;
  // One text node for each sentence, so it is kerned as one run.
  if (c.state === "disconnected")
    return html`<p class="note note-bad" id="dial-offline" role="status">${`You're offline${c.reason ? ` (${c.reason})` : ""} — ${CALL_WHEN_BACK}. Check the server in `}<button type="button" class="link" data-action="edit-settings">Settings</button>.</p>`;
  return html`<p class="note note-warn" id="dial-offline" role="status">${`${c.state === "reconnecting" ? `Reconnecting to the server (attempt ${c.attempt})…` : "Connecting to the server…"} You're offline — ${CALL_WHEN_BACK}.`}</p>`;
}

function historyItem(row: RecentRow, now: number, offline: boolean): TemplateResult {
  const { entry: e, label, missed, result: r } = row;
  const typeLabel = e.callType === "video" ? "Video call" : "Voice call";
  const dirLabel = e.direction === "incoming" ? "Incoming" : "Outgoing";
  const count = row.entries.length > 1 ? ` (${row.entries.length})` : "";
  // A folded row shows its newest time; the others are a hover away.
  const times = count ? row.entries.map((x) => formatWhen(x.createdAt, now)).join(", ") : null;
  return html`<li class="recent${missed ? " recent-missed" : ""}${row.busyReject ? " recent-busy" : ""}" data-call-id="${e.callId}">
    ${avatar(label, e.withIds.join(","), "sm")}
    <div class="recent-main">
      <div class="recent-name" title="${label + count}">${label + count}${missed ? html` <span class="badge badge-bad">Missed</span>` : nothing}</div>
      <div class="recent-meta">
        <span class="recent-dir" title="${dirLabel}">${icon(e.direction === "incoming" ? "incoming" : "outgoing", "icon-xs")}<span class="sr-only">${dirLabel}</span></span>
        <span class="recent-type" title="${typeLabel}">${icon(e.callType === "video" ? "video" : "phone", "icon-xs")}<span class="sr-only">${typeLabel}</span></span>
        <span class="recent-result tone-${r.tone}">${r.text}</span>
        <span class="recent-sep" aria-hidden="true">·</span>
        <time datetime="${new Date(e.createdAt).toISOString()}" title=${times ?? nothing}>${formatWhen(e.createdAt, now)}</time>
      </div>
    </div>
    <button type="button" class="icon-btn call-back" data-action="call-back" data-users="${e.withIds.join(",")}" data-type="${e.callType}" ?disabled=${offline}
      aria-label="Call back ${label} (${typeLabel.toLowerCase()})" title="Call back">${icon(e.callType === "video" ? "video" : "phone")}</button>
  </li>`;
}

/**
 * Always in the page, empty at zero: a live region announces changes only once it exists,
 * so a count that arrives with the history is read out.
 */
function missedBadge(n: number): TemplateResult {
  return html`<span class="missed-count" role="status" title=${n ? "Missed since you last looked" : nothing}>${n
    ? html`${n} missed<span class="sr-only"> ${n === 1 ? "call" : "calls"} since you last looked</span>`
    : nothing}</span>`;
}

function historyView(v: HomeView): TemplateResult {
  let body: TemplateResult;
  if (v.historyError)
    body = html`<div class="empty" role="status"><p>Couldn't load recent calls: ${v.historyError}</p>${canCall(v.snapshot) ? nothing : html`<p class="hint">They load again once Beckon reconnects.</p>`}<button type="button" class="btn btn-small btn-soft" data-action="retry-history">Retry</button></div>`;
  else if (v.history === null) body = html`<div class="empty" aria-busy="true"><p>Loading recent calls…</p></div>`;
  else if (v.history.length === 0)
    body = html`<div class="empty"><p>No calls yet.</p><p class="hint">Calls you make and receive show up here.</p></div>`;
  else body = html`<ul class="recents-list">${repeat(recentRows(v.history, v.snapshot), (row) => row.key, (row) => historyItem(row, v.now, !canCall(v.snapshot)))}</ul>`;
  return html`<section class="card recents" aria-labelledby="recents-title">
    <div class="card-head"><h2 id="recents-title">Recent calls</h2>${missedBadge(missedSince(v.history, v.missedSince))}</div>
    ${body}
  </section>`;
}

export function renderHome(v: HomeView): TemplateResult {
  const s = v.snapshot;
  const placing = v.busy === "call";
  const offline = !canCall(s);
  return html`<main class="page page-home" data-page="home">
    ${v.banner ? bannerView(v.banner, offline) : nothing}
    <div class="home-grid">
      <div class="home-side">
        <section class="card me" aria-label="Your profile">
          ${avatar(s.userName, s.userId, "lg")}
          <div class="me-text">
            <div class="me-name" title="${s.userName || s.userId}">${s.userName || s.userId}</div>
            <div class="me-id">ID <span class="mono">${s.userId}</span></div>
          </div>
          <button type="button" class="btn btn-small btn-ghost" data-action="edit-settings">Edit</button>
        </section>
        <section class="card dial" aria-labelledby="dial-title">
          <h2 id="dial-title">Start a call</h2>
          <form data-form="dial" class="dial-form" novalidate>
            <label for="dial-ids">User ID</label>
            <input id="dial-ids" data-field="dialText" type="text" .value=${live(v.dialText)} placeholder="e.g. bob — or bob, carol for a group"
              autocomplete="off" spellcheck="false" aria-describedby="dial-hint${v.dialError ? " dial-error" : ""}${offline ? " dial-offline" : ""}"
              aria-invalid=${v.dialError ? "true" : nothing} />
            ${v.dialError
              ? html`<p class="field-error" id="dial-error" role="alert">${v.dialError}</p>`
              : nothing}
            <p class="hint" id="dial-hint">Several IDs separated by commas or spaces start a group call. Enter starts a voice call.</p>
            <div class="dial-actions">
              <button type="button" class="btn btn-primary" data-action="call" data-type="voice" ?disabled=${placing || offline}>${icon("phone")}Voice call</button>
              <button type="button" class="btn btn-secondary" data-action="call" data-type="video" ?disabled=${placing || offline}>${icon("video")}Video call</button>
            </div>
          </form>
          ${connectionNote(s)}
        </section>
      </div>
      ${historyView(v)}
    </div>
  </main>`;
}
