// The media pieces of the call pages: video tiles, the hidden remote audio, the media
// notes and the mute/camera toggles. They render the media module's view only; every
// <video>/<audio> is keyed and bound with srcObject() so lit keeps the element (and its
// playback) across renders.
import { html, nothing, type TemplateResult } from "lit-html";
import { repeat } from "lit-html/directives/repeat.js";
import { icon } from "../icons";
import { noteText } from "../media/capture";
import type { MediaView, PeerView } from "../media/controller";
import { srcObject } from "../media/src-object";
import type { CallView, Member } from "../types";
import { avatar } from "./shell";

/** The media state as one line: null while media flows (the page shows the duration). */
export function mediaStatus(media: MediaView | null): string | null {
  if (!media?.supported) return null;
  if (media.peers.some((p) => p.health === "reconnecting")) return "Reconnecting…";
  if (!media.peers.some((p) => p.health === "connected")) return "Connecting…";
  return null;
}

/** The people whose media this page shows: the accepted peers, in join order. */
export function mediaMembers(call: CallView): Member[] {
  return call.peers.filter((p) => p.state === "accepted");
}

function peerView(media: MediaView | null, userId: string): PeerView | undefined {
  return media?.peers.find((p) => p.userId === userId);
}

/** Remote sound plays here for voice and video calls alike (the <video>s are muted). */
export function remoteAudio(media: MediaView | null): TemplateResult {
  const peers = media?.supported ? media.peers : [];
  return html`<div class="remote-audio" hidden>${repeat(
    peers,
    (p) => p.userId,
    (p) => html`<audio autoplay data-remote-audio=${p.userId} ${srcObject(p.stream)}></audio>`,
  )}</div>`;
}

function remoteTile(m: Member, media: MediaView | null, caption: TemplateResult | string): TemplateResult {
  const p = peerView(media, m.userId);
  const video = p?.hasVideo ?? false;
  const muted = p?.remoteSending?.audio === false;
  const name = m.name || m.userId;
  return html`<div class="tile tile-remote${video ? "" : " tile-novideo"}${p?.health === "reconnecting" ? " tile-reconnecting" : ""}" data-user=${m.userId}>
    <video class="tile-video" data-remote-video=${m.userId} autoplay playsinline .muted=${true} ?hidden=${!video} ${srcObject(p?.stream ?? null)}></video>
    ${video ? nothing : html`<div class="tile-avatar">${avatar(name, m.userId, "xl")}</div>`}
    <div class="tile-caption"><span class="tile-name">${name}</span>${muted ? html`<span class="tile-muted" title="${name} is muted">${icon("micOff", "icon-sm")}<span class="sr-only">${name} is muted</span></span>` : nothing}${caption}</div>
  </div>`;
}

function localTile(media: MediaView, swapped: boolean): TemplateResult {
  const on = media.cameraOn;
  return html`<button type="button" class="tile tile-local" data-action="swap-video" aria-pressed=${swapped ? "true" : "false"}
      aria-label=${swapped ? "Your camera, shown large: show them large instead" : "Your camera: show it large"}>
    <video class="tile-video tile-mirror" data-local-video autoplay playsinline .muted=${true} ?hidden=${!on} ${srcObject(media.local)}></video>
    ${on ? nothing : html`<span class="tile-off">${icon("videoOff", "icon-sm")}${media.capturing ? "Starting camera…" : "Camera off"}</span>`}
    <span class="tile-caption"><span class="tile-name">You</span>${media.micOn || !media.hasMic ? nothing : icon("micOff", "icon-sm")}</span>
  </button>`;
}

/** The video call stage: the remote tiles large, your preview small (click to swap). */
export function videoTiles(call: CallView, media: MediaView, swapped: boolean, caption: TemplateResult | string): TemplateResult {
  const people = mediaMembers(call);
  return html`<div class="tiles${swapped ? " tiles-swapped" : ""}${people.length > 1 ? " tiles-many" : ""}">
    ${repeat(people, (m) => m.userId, (m, i) => remoteTile(m, media, i === 0 ? caption : ""))}
    ${localTile(media, swapped)}
  </div>`;
}

/** The waiting page's preview of your own camera. */
export function localPreview(media: MediaView | null): TemplateResult | typeof nothing {
  if (!media?.local || !media.cameraOn) return nothing;
  return html`<div class="preview-pip"><video class="tile-video tile-mirror" data-local-video autoplay playsinline .muted=${true} ${srcObject(media.local)}></video><span class="tile-caption"><span class="tile-name">You</span></span></div>`;
}

function note(tone: "warn" | "bad" | "info", text: string, action: TemplateResult | typeof nothing = nothing): TemplateResult {
  return html`<p class="media-note media-note-${tone}" role="note"><span class="media-note-dot" aria-hidden="true"></span><span>${text}</span>${action}</p>`;
}

/** What the user should know about their media: no WebRTC, missing devices, blocked sound. */
export function mediaNotes(media: MediaView | null, busy: string | null): TemplateResult {
  if (!media?.supported) {
    const opening = busy === "open-in-browser";
    return html`<div class="media-notes">${note(
      "warn",
      "This window can't carry the call's audio or video. Calls still ring here; talk in your browser.",
      html`<button type="button" class="btn btn-small btn-glass" data-action="open-in-browser" ?disabled=${opening} aria-busy=${opening ? "true" : nothing}>${icon("external", "icon-sm")}Open calls in your browser</button>`,
    )}</div>`;
  }
  const notes = media.notes.map((n) => note(n.kind === "denied" ? "bad" : "warn", noteText(n)));
  if (media.playBlocked)
    notes.push(
      note("info", "Your browser held back the call's sound.", html`<button type="button" class="btn btn-small btn-glass" data-action="play-media">${icon("volume", "icon-sm")}Turn on sound</button>`),
    );
  return notes.length ? html`<div class="media-notes">${notes}</div>` : html`${nothing}`;
}

/** Mute and camera: real toggles (aria-pressed) once there is something to toggle. */
export function mediaToggles(call: CallView, media: MediaView | null): TemplateResult {
  const ok = media?.supported ?? false;
  const micOn = media?.micOn ?? true;
  const canMute = ok && (media?.hasMic ?? false);
  const video = call.callType === "video";
  const cameraOn = media?.cameraOn ?? false;
  const canCamera = ok && video && !media?.capturing && !media?.cameraBusy;
  const why = !ok ? "This window can't carry audio or video" : !canMute ? "No microphone" : "";
  return html`<div class="control">
      <button type="button" class="round round-glass round-toggle" data-action="mute" aria-label="Mute" aria-pressed=${micOn ? "false" : "true"}
        ?disabled=${!canMute} title=${why || (micOn ? "Mute your microphone" : "Unmute your microphone")}>${icon(micOn ? "mic" : "micOff")}</button>
      <span class="control-label" aria-hidden="true">${micOn ? "Mute" : "Muted"}</span>
    </div>
    <div class="control">
      <button type="button" class="round round-glass round-toggle" data-action="camera" aria-label="Camera off" aria-pressed=${ok && video ? (cameraOn ? "false" : "true") : nothing}
        ?disabled=${!canCamera} aria-busy=${media?.cameraBusy ? "true" : nothing}
        title=${!ok ? why : !video ? "This is a voice call" : cameraOn ? "Turn your camera off" : "Turn your camera on"}>${icon(cameraOn ? "video" : "videoOff")}</button>
      <span class="control-label" aria-hidden="true">${!ok || !video ? "Camera" : media?.cameraBusy ? "Starting…" : cameraOn ? "Stop video" : "Start video"}</span>
    </div>`;
}
