// The group call's stage: every member in a tile (video if they send it, else their
// avatar), yours among them, in a grid sized by how many are in the call so the tiles
// fill the window without scrolling. A 1:1 call keeps its big picture and pip instead
// (media-parts.ts videoTiles).
import { html, nothing, type TemplateResult } from "lit-html";
import { repeat } from "lit-html/directives/repeat.js";
import { icon } from "../icons";
import type { MediaView } from "../media/controller";
import type { CallView } from "../types";
import { levelMeter, localVideo, mediaMembers, mutedMark, remoteTile, speakingMark } from "./media-parts";
import { avatar } from "./shell";

/** Columns and rows for this many people: 2-4 in 2×2, 5-9 in 3×3, more in 4 columns. */
export function gridShape(count: number): { cols: number; rows: number } {
  const cols = count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
  return { cols, rows: Math.max(1, Math.ceil(count / cols)) };
}

function selfTile(media: MediaView, self: { id: string; name: string }): TemplateResult {
  const shown = media.cameraOn || media.sharing;
  const speaking = media.speaking !== null && media.speaking === self.id;
  const muted = media.hasMic && !media.micOn;
  return html`<div class="tile tile-self${shown ? "" : " tile-novideo"}${speaking ? " tile-speaking" : ""}" data-self ?data-speaking=${speaking}>
    ${localVideo(media, shown)}
    ${shown ? nothing : html`<div class="tile-avatar">${avatar(self.name, self.id, "xl")}</div>`}
    ${media.videoHeldBack && !shown ? html`<p class="tile-trouble-note tile-held">${icon("videoOff", "icon-xs")}Camera held back</p>` : nothing}
    <div class="tile-caption"><span class="tile-name">You</span>${muted ? mutedMark("You", true) : nothing}${speaking ? speakingMark() : nothing}${muted ? nothing : levelMeter(media.localLevel)}</div>
  </div>`;
}

/**
 * The grid: you first, then the others in the order they joined. The column and row
 * counts are classes; the stylesheet sizes the tiles from the space the grid gets.
 */
export function groupTiles(call: CallView, media: MediaView, self: { id: string; name: string }): TemplateResult {
  const people = mediaMembers(call);
  const { cols, rows } = gridShape(people.length + 1);
  return html`<div class="grid-frame">
    <div class="tiles tiles-grid grid-c${cols} grid-r${Math.min(rows, 4)}" data-count=${people.length + 1}>
      ${selfTile(media, self)}
      ${repeat(people, (m) => m.userId, (m) => remoteTile(m, media, "", true))}
    </div>
  </div>`;
}
