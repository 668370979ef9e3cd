import { html, nothing, type TemplateResult } from "lit-html";
import { repeat } from "lit-html/directives/repeat.js";
import { callPartyLabel, formatDuration, memberStatus, notOnlineText } from "../format";
import { icon } from "../icons";
import type { MediaView } from "../media/controller";
import type { CallView, Member } from "../types";
import { localPreview, mediaNotes } from "./media-parts";
import { avatar, pill, since } from "./shell";

export type WaitingView = { call: CallView; busy: string | null; now: number; media?: MediaView | null };

export function memberRow(m: Member): TemplateResult {
  const st = memberStatus(m);
  return html`<li class="member" data-user="${m.userId}" data-state="${m.state}">
    ${avatar(m.name, m.userId, "sm")}
    <div class="member-text"><span class="member-name" title="${m.name || m.userId}">${m.name || m.userId}</span>${m.name && m.name !== m.userId ? html`<span class="member-id mono">${m.userId}</span>` : nothing}</div>
    ${pill(st.text, st.tone)}
  </li>`;
}

export function avatarGroup(call: CallView, size: "lg" | "xl", ringing: boolean): TemplateResult {
  const people = call.peers.slice(0, 3);
  if (people.length <= 1) {
    const p = people[0];
    const name = p ? p.name : call.callerName;
    const key = p ? p.userId : call.callerId;
    return html`<div class="stage-avatar${ringing ? " ringing" : ""}">${avatar(name, key, size)}</div>`;
  }
  return html`<div class="stage-avatar stage-avatar-group${ringing ? " ringing" : ""}">${people.map((p) => avatar(p.name, p.userId, "lg"))}${call.peers.length > 3 ? html`<span class="avatar avatar-lg avatar-more" aria-hidden="true">+${String(call.peers.length - 3)}</span>` : nothing}</div>`;
}

const notOnline = (call: CallView): Member[] => call.peers.filter((p) => p.state === "inviting");

function waitingStatus(call: CallView): string {
  if (call.callId === null) return "Calling…";
  const one = call.peers.length === 1 ? call.peers[0] : undefined;
  if (one) return one.state === "inviting" ? notOnlineText([one.name || one.userId]) : memberStatus(one).text;
  const ringing = call.peers.filter((p) => p.state === "received").length;
  const away = notOnline(call).length;
  const parts: string[] = [];
  if (ringing) parts.push(`Ringing ${ringing}`);
  if (away) parts.push(`${away} not online`);
  return parts.length ? parts.join(" · ") : "Waiting for answers…";
}

/**
 * Under the status: who isn't online and why that may be (a 1:1 status line already says
 * it), then how long the call keeps ringing for them. Not a live region, since the time
 * changes every second; the status line announces the change itself. The deadline is
 * the server's (its answer to the invitation), so a call still on its way has none yet.
 */
export function notOnlineNote(call: CallView, now: number, named: boolean): TemplateResult | typeof nothing {
  const away = notOnline(call);
  if (call.callId === null || away.length === 0) return nothing;
  const until =
    call.ringUntil !== null
      ? `It rings if they sign in within ${formatDuration(call.ringUntil - now)}.`
      : "It rings if they sign in before the call stops ringing.";
  const why = named ? `${notOnlineText(away.map((p) => p.name || p.userId))} ` : "";
  return html`<p class="stage-note" data-note="not-online">${why + until}</p>`;
}

export function renderWaiting(v: WaitingView): TemplateResult {
  const c = v.call;
  const who = callPartyLabel(c);
  const anyRinging = c.peers.some((p) => p.state === "received");
  const cancelling = v.busy === "cancel";
  return html`<main class="page stage stage-waiting" data-page="waiting" aria-labelledby="stage-title">
    <div class="stage-scroll">
    <div class="stage-top">
      <span class="stage-kind">${icon(c.callType === "video" ? "video" : "phone", "icon-sm")}${c.callType === "video" ? "Video call" : "Voice call"}${c.group ? " · group" : ""}</span>
      ${since(c.createdAt, v.now, "stage-elapsed")}
    </div>
    <div class="stage-center">
      ${avatarGroup(c, "xl", anyRinging)}
      <p class="stage-eyebrow">Calling</p>
      <h1 id="stage-title" class="stage-title" title="${who}">${who}</h1>
      <p class="stage-status" role="status" aria-live="polite">${waitingStatus(c)}</p>
      ${notOnlineNote(c, v.now, c.peers.length > 1)}
      ${v.media === undefined ? nothing : mediaNotes(v.media, v.busy)}
    </div>
    ${c.callType === "video" ? localPreview(v.media ?? null) : nothing}
    ${c.peers.length > 1
      ? html`<section class="members" aria-label="People being called"><ul class="member-list">${repeat(c.peers, (p) => p.userId, memberRow)}</ul></section>`
      : nothing}
    </div>
    <div class="dock">
    <div class="controls">
      <div class="control">
        <button type="button" class="round round-red" data-action="cancel" aria-label="Cancel call to ${who}" ?disabled=${cancelling} aria-busy=${cancelling ? "true" : nothing}>${icon("hangUp")}</button>
        <span class="control-label" aria-hidden="true">${cancelling ? "Cancelling…" : "Cancel"}</span>
      </div>
    </div>
    <p class="kbd-hint"><kbd>Esc</kbd> cancels</p>
    </div>
  </main>`;
}
