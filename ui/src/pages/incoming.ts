import { html, nothing, render, type TemplateResult } from "lit-html";
import { joinNames } from "../format";
import { icon } from "../icons";
import { withShortcut } from "../incall-keys";
import type { CallView } from "../types";
import { avatar } from "./shell";

export type IncomingView = {
  call: CallView;
  /** The small always-on-top window, or the main window's full page. */
  compact: boolean;
  busy: string | null;
};

/** "Incoming video call", plus who else is in a group call. */
function subtitle(c: CallView): string {
  const kind = c.callType === "video" ? "Incoming video call" : "Incoming voice call";
  if (!c.group) return kind;
  const others = c.peers.filter((p) => p.userId !== c.callerId).map((p) => p.name || p.userId);
  return others.length ? `${kind} · with ${joinNames(others)}` : `${kind} · group`;
}

export function renderIncoming(v: IncomingView): TemplateResult {
  const c = v.call;
  const caller = c.callerName || c.callerId;
  const accepting = c.working || v.busy === "accept";
  const declining = v.busy === "decline";
  const locked = accepting || declining;
  const lockedAria = locked ? "true" : nothing;
  return html`<main class="page incoming${v.compact ? " incoming-compact" : " stage"}" data-page="incoming" data-state="${accepting ? "accepting" : "ringing"}"
      role="${v.compact ? "alertdialog" : "region"}" aria-labelledby="incoming-title" aria-describedby="incoming-sub">
    <div class="incoming-head" ?data-tauri-drag-region=${v.compact}>
      <div class="stage-avatar${accepting ? "" : " ringing"}">${avatar(caller, c.callerId, v.compact ? "md" : "xl")}</div>
      <div class="incoming-text">
        <h1 id="incoming-title" class="incoming-name" title="${caller}">${caller}</h1>
        <p id="incoming-sub" class="incoming-sub">${icon(c.callType === "video" ? "video" : "phone", "icon-sm")}${subtitle(c)}</p>
        ${c.callerName && c.callerName !== c.callerId ? html`<p class="incoming-id mono">${c.callerId}</p>` : nothing}
      </div>
    </div>
    <p class="incoming-status${v.compact ? " sr-only" : ""}" role="status" aria-live="polite">${accepting ? "Connecting…" : declining ? "Declining…" : ""}</p>
    <div class="incoming-actions">
      <div class="control">
        <button type="button" class="round round-red" data-action="decline" aria-label="Decline call from ${caller}" title=${withShortcut("Decline", "decline")} ?disabled=${locked} aria-disabled=${lockedAria}>${icon("hangUp")}</button>
        <span class="control-label" aria-hidden="true">Decline</span>
      </div>
      <div class="control">
        <button type="button" class="round round-green" data-action="accept" aria-label="Accept ${c.callType === "video" ? "video" : "voice"} call from ${caller}" title=${withShortcut("Accept", "accept")} ?disabled=${locked} aria-disabled=${lockedAria} aria-busy=${accepting ? "true" : nothing}>${icon(c.callType === "video" ? "video" : "phone")}</button>
        <span class="control-label" aria-hidden="true">${accepting ? "Connecting…" : "Accept"}</span>
      </div>
    </div>
    ${v.compact ? nothing : html`<p class="kbd-hint"><kbd>Esc</kbd> declines</p>`}
  </main>`;
}

/**
 * The popup between calls, hidden: empty, so that the moment it is shown can never read
 * "no call" while the call it is shown for is being drawn.
 */
export function renderNoIncoming(): TemplateResult {
  return html`<main class="page incoming incoming-compact incoming-idle" data-page="incoming-idle" aria-hidden="true"></main>`;
}

/** A call that never rings: what the warm-up lays out. */
const SAMPLE: CallView = {
  callId: "",
  direction: "incoming",
  callType: "video",
  callerId: "warm-up",
  callerName: "Warm Up",
  peers: [],
  group: false,
  createdAt: 0,
  startedAt: null,
  ringUntil: null,
  working: false,
};

/**
 * Lays out an incoming call once, off screen, and throws it away. A window's first text in
 * a new size and weight makes the engine look its fonts up (fontconfig on Linux, measured
 * at about 200 ms in the popup), and the first real call must not wait for that.
 */
export function warmIncoming(doc: Document, compact: boolean): void {
  const host = doc.createElement("div");
  host.setAttribute("aria-hidden", "true");
  host.inert = true;
  host.style.cssText = "position:fixed;left:-10000px;top:0;width:380px;visibility:hidden;pointer-events:none";
  doc.body.append(host);
  try {
    render(renderIncoming({ call: SAMPLE, compact, busy: null }), host);
    host.getBoundingClientRect();
    void host.offsetHeight;
  } finally {
    host.remove();
  }
}
