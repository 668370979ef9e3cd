import { html, nothing, type TemplateResult } from "lit-html";
import { live } from "lit-html/directives/live.js";
import { repeat } from "lit-html/directives/repeat.js";
import { callPartyLabel } from "../format";
import { icon } from "../icons";
import { withShortcut } from "../incall-keys";
import type { MediaView } from "../media/controller";
import type { CallView } from "../types";
import { groupTiles } from "./call-grid";
import { devicesPopover } from "./devices";
import { mediaMembers, mediaNotes, mediaStatus, mediaToggles, peerOf, qualityBadge, remoteAudio, videoTiles } from "./media-parts";
import { since } from "./shell";
import { avatarGroup, memberRow, notOnlineNote } from "./waiting";

export type CallingView = {
  call: CallView;
  /** This user's ID: only the caller is offered "End for everyone". */
  selfId: string;
  /** This user's name, on their own tile's avatar in a group call. */
  selfName?: string;
  /** The Devices popover is open (view-local). */
  devicesOpen?: boolean;
  /** The invite box's text (view-local). */
  inviteText: string;
  inviteError: string | null;
  busy: string | null;
  now: number;
  /** Null: this window carries no media (shown like a webview without WebRTC). */
  media?: MediaView | null;
  /** Video calls: your own camera is the big picture. */
  swapped?: boolean;
};

export function renderCalling(v: CallingView): TemplateResult {
  const c = v.call;
  const who = callPartyLabel(c);
  const video = c.callType === "video";
  const inviting = c.working || v.busy === "invite";
  const busy = (action: string): boolean => v.busy === action;
  // In a group call the big red button only takes you out; ending it for everyone is the
  // caller's call to make, so it is a smaller secondary action shown to the caller alone.
  const endControls = c.group
    ? html`<div class="control">
          <button type="button" class="round round-red" data-action="leave" aria-label="Leave the call" title=${withShortcut("Leave the call", "leave")} ?disabled=${busy("leave")} aria-busy=${busy("leave") ? "true" : nothing}>${icon("leave")}</button>
          <span class="control-label" aria-hidden="true">Leave</span>
        </div>`
    : html`<div class="control">
          <button type="button" class="round round-red" data-action="hang-up" aria-label="Hang up" title=${withShortcut("Hang up", "hang-up")} ?disabled=${busy("hang-up")} aria-busy=${busy("hang-up") ? "true" : nothing}>${icon("hangUp")}</button>
          <span class="control-label" aria-hidden="true">Hang up</span>
        </div>`;
  const endAll =
    c.group && c.callerId === v.selfId
      ? html`<button type="button" class="btn btn-small btn-glass end-all" data-action="end-call" aria-label="End the call for everyone" ?disabled=${busy("end-call")} aria-busy=${busy("end-call") ? "true" : nothing}>${icon("hangUp", "icon-sm")}End for everyone</button>`
      : nothing;
  const media = v.media ?? null;
  const status = mediaStatus(media);
  const statusLine: TemplateResult | string =
    status ?? (c.startedAt !== null ? html`<span class="sr-only">Duration </span>${since(c.startedAt, v.now, "stage-duration")}` : "Connecting…");
  // A group call shows everyone in a grid, voice or video; a 1:1 video call its big
  // picture and pip; a 1:1 voice call (or a window without media) the avatar.
  const grid = (c.group || mediaMembers(c).length > 1) && (media?.supported ?? false);
  // A voice call turns into pictures when a screen is shared, either way.
  const tiles = !grid && (media?.supported ?? false) && (video || media!.sharing || media!.peers.some((p) => p.hasVideo));
  const one = grid ? undefined : peerOf(media, mediaMembers(c)[0]?.userId ?? "");
  const speaking = one !== undefined && media?.speaking === one.userId;
  // Beside the grid it joins the people list, so the tiles get the window's height.
  const inviteForm = html`<form class="invite-form" data-form="invite" novalidate aria-label="Invite more people">
    <label for="invite-ids" class="sr-only">User IDs to invite</label>
    <input id="invite-ids" data-field="inviteText" type="text" .value=${live(v.inviteText)} placeholder="${c.group ? "Invite more: user IDs" : "Add people: user IDs"}" autocomplete="off" spellcheck="false"
      ?disabled=${inviting} aria-invalid=${v.inviteError ? "true" : nothing} aria-describedby=${v.inviteError ? "invite-error" : nothing} />
    <button type="submit" class="btn btn-small btn-glass" ?disabled=${inviting} aria-busy=${inviting ? "true" : nothing}>${icon("userPlus", "icon-sm")}${inviting ? "Inviting…" : c.group ? "Invite more" : "Add"}</button>
    ${v.inviteError ? html`<p class="field-error" id="invite-error" role="alert">${v.inviteError}</p>` : nothing}
  </form>`;
  return html`<main class="page stage stage-call${c.group ? " stage-group" : ""}${tiles || grid ? " stage-video" : ""}${grid ? " stage-grid" : ""}" data-page="calling" data-media=${status === "Reconnecting…" ? "reconnecting" : status ? "connecting" : media?.supported ? "connected" : "unsupported"} aria-labelledby="stage-title">
    <div class="stage-scroll">
    <div class="stage-top">
      <span class="stage-kind">${icon(video ? "video" : "phone", "icon-sm")}${video ? "Video call" : "Voice call"}${c.group ? " · group" : ""}</span>
      <span class="stage-live"><span class="live-dot${status ? " live-dot-wait" : ""}" aria-hidden="true"></span>${status === "Reconnecting…" ? "Reconnecting" : "In call"}${grid && !status ? html` · ${statusLine}` : nothing}</span>
    </div>
    <p class="sr-only" role="status" aria-live="polite">${status ?? ""}</p>
    <div class="stage-body">
      ${grid
        ? html`<div class="stage-media">
            <h1 id="stage-title" class="sr-only">${who}</h1>
            ${groupTiles(c, media!, { id: v.selfId, name: v.selfName || v.selfId })}
            ${mediaNotes(media, v.busy)}
          </div>`
        : tiles
        ? html`<div class="stage-media">
            <h1 id="stage-title" class="sr-only">${who}</h1>
            ${videoTiles(c, media!, v.swapped ?? false, html`<span class="tile-status">${statusLine}</span>`, v.selfId)}
            ${mediaNotes(media, v.busy)}
          </div>`
        : html`<div class="stage-center">
            <div class="speaker-ring${speaking ? " tile-speaking" : ""}" ?data-speaking=${speaking}>${avatarGroup(c, "xl", false)}</div>
            <h1 id="stage-title" class="stage-title" title="${who}">${who}</h1>
            <p class="stage-status">${statusLine}</p>
            ${qualityBadge(one?.quality)}
            ${mediaNotes(media, v.busy)}
          </div>`}
      ${c.group || c.peers.length > 1
        ? html`<section class="members" aria-label="People in this call">
            <h2 class="members-title">${icon("users", "icon-sm")}In this call</h2>
            <ul class="member-list">${repeat(c.peers, (p) => p.userId, memberRow)}</ul>
            ${notOnlineNote(c, v.now, true)}
            ${grid ? inviteForm : nothing}
          </section>`
        : nothing}
    </div>
    ${grid ? nothing : inviteForm}
    </div>
    ${remoteAudio(media)}
    <div class="dock">
    ${v.devicesOpen && media?.supported ? devicesPopover(media) : nothing}
    <div class="controls">
      ${mediaToggles(c, media, v.devicesOpen ?? false)}
      ${endControls}
    </div>
    ${endAll}
    </div>
  </main>`;
}
