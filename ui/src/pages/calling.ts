import { callPartyLabel } from "../format";
import { html, type Html } from "../html";
import { icon } from "../icons";
import type { CallView } from "../types";
import { since } from "./shell";
import { avatarGroup, memberRow } from "./waiting";

export type CallingView = {
  call: CallView;
  /** The invite box's text (view-local). */
  inviteText: string;
  inviteError: string | null;
  busy: string | null;
  now: number;
};

export const MEDIA_NOTE = "Media not connected";

export function renderCalling(v: CallingView): Html {
  const c = v.call;
  const who = callPartyLabel(c);
  const video = c.callType === "video";
  const inviting = c.working || v.busy === "invite";
  const dis = (action: string): Html | string => (v.busy === action ? html`disabled aria-busy="true"` : "");
  const endControls = c.group
    ? html`<div class="control">
          <button type="button" class="round round-red-soft" data-action="leave" aria-label="Leave the call" ${dis("leave")}>${icon("leave")}</button>
          <span class="control-label" aria-hidden="true">Leave</span>
        </div>
        <div class="control">
          <button type="button" class="round round-red" data-action="end-call" aria-label="End the call for everyone" ${dis("end-call")}>${icon("hangUp")}</button>
          <span class="control-label" aria-hidden="true">End for everyone</span>
        </div>`
    : html`<div class="control">
          <button type="button" class="round round-red" data-action="hang-up" aria-label="Hang up" ${dis("hang-up")}>${icon("hangUp")}</button>
          <span class="control-label" aria-hidden="true">Hang up</span>
        </div>`;
  return html`<main class="page stage stage-call${c.group ? " stage-group" : ""}" data-page="calling" aria-labelledby="stage-title">
    <div class="stage-top">
      <span class="stage-kind">${icon(video ? "video" : "phone", "icon-sm")}${video ? "Video call" : "Voice call"}${c.group ? " · group" : ""}</span>
      <span class="stage-live"><span class="live-dot" aria-hidden="true"></span>In call</span>
    </div>
    <div class="stage-body">
      <div class="stage-center">
        ${avatarGroup(c, "xl", false)}
        <h1 id="stage-title" class="stage-title">${who}</h1>
        <p class="stage-status">${c.startedAt !== null
          ? html`<span class="sr-only">Duration </span>${since(c.startedAt, v.now, "stage-duration")}`
          : "Connecting…"}</p>
        <p class="media-note" role="note"><span class="media-note-dot" aria-hidden="true"></span><strong>${MEDIA_NOTE}.</strong> The call is set up, but Beckon doesn't carry ${video ? "audio or video" : "audio"} yet.</p>
      </div>
      ${c.group || c.peers.length > 1
        ? html`<section class="members" aria-label="People in this call">
            <h2 class="members-title">${icon("users", "icon-sm")}In this call</h2>
            <ul class="member-list">${c.peers.map(memberRow)}</ul>
          </section>`
        : ""}
    </div>
    <form class="invite-form" data-form="invite" novalidate aria-label="Invite more people">
      <label for="invite-ids" class="sr-only">User IDs to invite</label>
      <input id="invite-ids" data-field="inviteText" type="text" value="${v.inviteText}" placeholder="${c.group ? "Invite more: user IDs" : "Add people: user IDs"}" autocomplete="off" spellcheck="false"
        ${inviting ? "disabled" : ""} ${v.inviteError ? html`aria-invalid="true" aria-describedby="invite-error"` : ""} />
      <button type="submit" class="btn btn-small btn-glass" ${inviting ? html`disabled aria-busy="true"` : ""}>${icon("userPlus", "icon-sm")}${inviting ? "Inviting…" : c.group ? "Invite more" : "Add"}</button>
      ${v.inviteError ? html`<p class="field-error" id="invite-error" role="alert">${v.inviteError}</p>` : ""}
    </form>
    <div class="dock">
    <div class="controls">
      <div class="control">
        <button type="button" class="round round-glass" data-action="mute" disabled aria-disabled="true" aria-label="Mute (media not connected)" title="${MEDIA_NOTE}">${icon("micOff")}</button>
        <span class="control-label" aria-hidden="true">Mute</span>
      </div>
      <div class="control">
        <button type="button" class="round round-glass" data-action="camera" disabled aria-disabled="true" aria-label="Camera (media not connected)" title="${MEDIA_NOTE}">${icon("videoOff")}</button>
        <span class="control-label" aria-hidden="true">Camera</span>
      </div>
      ${endControls}
    </div>
    </div>
  </main>`;
}
