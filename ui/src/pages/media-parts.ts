// The media pieces of the call pages: video tiles, the hidden remote audio, the media
// notes, the per-person badges (muted, speaking, connection) and the call's toggles.
// They render the media module's view only; every <video>/<audio> is keyed and bound
// with srcObject() so lit keeps the element (and its playback) across renders.
import { html, nothing, svg, type TemplateResult } from "lit-html";
import { repeat } from "lit-html/directives/repeat.js";
import { styleMap } from "lit-html/directives/style-map.js";
import { icon } from "../icons";
import { withShortcut } from "../incall-keys";
import { noteText } from "../media/capture";
import type { MediaView, PeerView, Quality } from "../media/controller";
import { speakerInUse } from "../media/devices";
import { sinkId, srcObject } from "../media/src-object";
import type { CallView, Member } from "../types";
import { avatar } from "./shell";

/**
 * The media state as one line: null while media flows (the page shows the duration). In
 * a group call one member's trouble is on their tile: the call is up while anyone is.
 */
export function mediaStatus(media: MediaView | null): string | null {
  if (!media?.supported) return null;
  const up = media.peers.some((p) => p.health === "connected");
  if (up && media.peers.length > 1) return null;
  if (media.peers.some((p) => p.health === "reconnecting")) return "Reconnecting…";
  if (!up) return "Connecting…";
  return null;
}

/** The people whose media this page shows: the accepted peers, in join order. */
export function mediaMembers(call: CallView): Member[] {
  return call.peers.filter((p) => p.state === "accepted");
}

export function peerOf(media: MediaView | null, userId: string): PeerView | undefined {
  return media?.peers.find((p) => p.userId === userId);
}

const QUALITY_WORDS: Record<Quality["level"], string> = { good: "Good connection", weak: "Weak connection", poor: "Poor connection" };

/** The numbers behind the word, for the tooltip: "Round trip 180 ms · 4.2 % lost · 850 kbps in". */
export function qualityNumbers(q: Quality): string {
  const parts: string[] = [];
  if (q.rttMs !== null) parts.push(`Round trip ${Math.round(q.rttMs)} ms`);
  if (q.lossPct !== null) parts.push(`${q.lossPct < 10 ? q.lossPct.toFixed(1) : Math.round(q.lossPct)} % lost`);
  if (q.inKbps !== null) parts.push(`${Math.round(q.inKbps)} kbps in`);
  return parts.length ? parts.join(" · ") : "No measurements yet";
}

/**
 * How a connection is doing, as a word with bars (not colour alone). `quiet`: a good one
 * shows its bars only, its word kept for screen readers and the tooltip (a grid of ten
 * "Good connection"s would drown the two that matter).
 */
export function qualityBadge(q: Quality | null | undefined, quiet = false): TemplateResult | typeof nothing {
  if (!q) return nothing;
  const word = QUALITY_WORDS[q.level];
  const bars = q.level === "good" ? 3 : q.level === "weak" ? 2 : 1;
  return html`<span class="quality quality-${q.level}" data-quality=${q.level} title="${word}: ${qualityNumbers(q)}">
    <svg class="quality-bars" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true" focusable="false">${[0, 1, 2].map(
      (i) => svg`<rect x=${1 + i * 4} y=${8 - i * 3} width="2.5" height=${3 + i * 3} rx="0.8" class=${i < bars ? "on" : "off"}></rect>`,
    )}</svg><span class=${quiet && q.level === "good" ? "sr-only" : "quality-word"}>${word}</span>
  </span>`;
}

/** A connection in trouble, in words: null while it is fine (or still starting). */
export function peerTrouble(p: PeerView | undefined): string | null {
  if (p?.health === "reconnecting") return "Reconnecting…";
  if (p?.health === "failed") return "Can't connect — retrying";
  return null;
}

/** The muted mark next to a name. */
export function mutedMark(name: string, self = false): TemplateResult {
  const words = self ? "You're muted" : `${name} is muted`;
  return html`<span class="tile-muted" title=${words}>${icon("micOff", "icon-sm")}<span class="sr-only">${words}</span></span>`;
}

/** Who is talking: a glyph (the ring around the tile is the other half of it). */
export function speakingMark(): TemplateResult {
  return html`<span class="tile-speaking-mark" title="Speaking">${icon("volume", "icon-xs")}<span class="sr-only">, speaking</span></span>`;
}

/** A quiet level bar under the name: their voice as it arrives. */
export function levelMeter(level: number): TemplateResult {
  const v = Math.max(0, Math.min(1, level));
  return html`<span class="tile-level" aria-hidden="true"><span class="tile-level-fill" style=${styleMap({ transform: `scaleX(${v.toFixed(2)})` })}></span></span>`;
}

/** Remote sound plays here for voice and video calls alike (the <video>s are muted). */
export function remoteAudio(media: MediaView | null): TemplateResult {
  const peers = media?.supported ? media.peers : [];
  const speaker = media ? speakerInUse(media.devices) : "";
  return html`<div class="remote-audio" hidden>${repeat(
    peers,
    (p) => p.userId,
    (p) => html`<audio autoplay data-remote-audio=${p.userId} ${srcObject(p.stream)} ${sinkId(speaker)}></audio>`,
  )}</div>`;
}

/**
 * One remote person's tile: their video (kept in the DOM, hidden, while they send none,
 * so lit keeps the element and its playback), or their avatar. Used by the 1:1 stage and
 * the group grid alike.
 */
export function remoteTile(m: Member, media: MediaView | null, caption: TemplateResult | string, quietQuality = false): TemplateResult {
  const p = peerOf(media, m.userId);
  const video = p?.hasVideo ?? false;
  const muted = p?.remoteSending?.audio === false;
  const name = m.name || m.userId;
  const speaking = media?.speaking === m.userId;
  const trouble = peerTrouble(p);
  return html`<div class="tile tile-remote${video ? "" : " tile-novideo"}${trouble ? " tile-trouble" : ""}${p?.health === "reconnecting" ? " tile-reconnecting" : ""}${speaking ? " tile-speaking" : ""}" data-user=${m.userId} ?data-speaking=${speaking} data-health=${p?.health ?? "connecting"}>
    <video class="tile-video${p?.remoteSending?.screen ? " tile-screen" : ""}" data-remote-video=${m.userId} autoplay playsinline .muted=${true} ?hidden=${!video} ${srcObject(p?.stream ?? null)}></video>
    ${video ? nothing : html`<div class="tile-avatar">${avatar(name, m.userId, "xl")}</div>`}
    ${trouble
      ? html`<p class="tile-trouble-note">${icon("alert", "icon-xs")}${trouble}</p>`
      : html`<div class="tile-corner">${qualityBadge(p?.quality, quietQuality)}</div>`}
    <div class="tile-caption"><span class="tile-name" title=${name}>${name}</span>${muted ? mutedMark(name) : nothing}${speaking ? speakingMark() : nothing}${caption}${p && !muted && !trouble ? levelMeter(p.level) : nothing}</div>
  </div>`;
}

/** Your camera is mirrored, as in a mirror; your shared screen is not, nor cropped. */
export function localVideo(media: MediaView, shown: boolean): TemplateResult {
  return html`<video class="tile-video${media.sharing ? " tile-screen" : " tile-mirror"}" data-local-video autoplay playsinline .muted=${true} ?hidden=${!shown} ${srcObject(media.local)}></video>`;
}

function localTile(media: MediaView, swapped: boolean, selfId: string): TemplateResult {
  const on = media.cameraOn || media.sharing;
  return html`<button type="button" class="tile tile-local" data-action="swap-video" aria-pressed=${swapped ? "true" : "false"}
      aria-label=${swapped ? "Your camera, shown large: show them large instead" : "Your camera: show it large"}>
    ${localVideo(media, on)}
    ${on ? nothing : html`<span class="tile-off">${icon("videoOff", "icon-sm")}${media.capturing ? "Starting camera…" : "Camera off"}</span>`}
    <span class="tile-caption"><span class="tile-name">You</span>${media.micOn || !media.hasMic ? nothing : icon("micOff", "icon-sm")}${media.speaking !== null && media.speaking === selfId ? speakingMark() : nothing}</span>
  </button>`;
}

/** The 1:1 video stage: the remote tile large, your preview small (click to swap). */
export function videoTiles(call: CallView, media: MediaView, swapped: boolean, caption: TemplateResult | string, selfId = ""): TemplateResult {
  const people = mediaMembers(call);
  return html`<div class="tiles${swapped ? " tiles-swapped" : ""}${people.length > 1 ? " tiles-many" : ""}">
    ${repeat(people, (m) => m.userId, (m, i) => remoteTile(m, media, i === 0 ? caption : ""))}
    ${localTile(media, swapped, selfId)}
  </div>`;
}

/** The waiting page's preview of your own camera. */
export function localPreview(media: MediaView | null): TemplateResult | typeof nothing {
  if (!media?.local || !media.cameraOn) return nothing;
  return html`<div class="preview-pip"><video class="tile-video tile-mirror" data-local-video autoplay playsinline .muted=${true} ${srcObject(media.local)}></video><span class="tile-caption"><span class="tile-name">You</span></span></div>`;
}

function note(tone: "warn" | "bad" | "info", text: string, action: TemplateResult | typeof nothing = nothing, id = ""): TemplateResult {
  return html`<p class="media-note media-note-${tone}" role="note" id=${id || nothing}><span class="media-note-dot" aria-hidden="true"></span><span>${text}</span>${action}</p>`;
}

/** Why the camera stays off: a mesh call carries this many cameras at most. */
export const HELD_BACK = "4 people already have their camera on — the most a call carries. Yours stays off for now.";

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
  if (media.videoHeldBack && !media.cameraOn) notes.push(note("warn", HELD_BACK, nothing, "held-back"));
  if (media.sharing)
    notes.push(note("info", "You're sharing your screen", html`<button type="button" class="btn btn-small btn-glass" data-action="share-screen">${icon("stop", "icon-sm")}Stop</button>`));
  if (media.playBlocked)
    notes.push(
      note("info", "Your browser held back the call's sound.", html`<button type="button" class="btn btn-small btn-glass" data-action="play-media">${icon("volume", "icon-sm")}Turn on sound</button>`),
    );
  return notes.length ? html`<div class="media-notes">${notes}</div>` : html`${nothing}`;
}

/**
 * Mute, camera, screen sharing and devices: real toggles (aria-pressed) once there is
 * something to toggle. Each title names its shortcut (incall-keys.ts).
 */
export function mediaToggles(call: CallView, media: MediaView | null, devicesOpen = false): TemplateResult {
  const ok = media?.supported ?? false;
  const micOn = media?.micOn ?? true;
  const canMute = ok && (media?.hasMic ?? false);
  const video = call.callType === "video";
  const cameraOn = media?.cameraOn ?? false;
  const heldBack = ok && video && !cameraOn && (media?.videoHeldBack ?? false);
  const canCamera = ok && video && !media?.capturing && !media?.cameraBusy && !heldBack;
  const why = !ok ? "This window can't carry audio or video" : !canMute ? "No microphone" : "";
  const cameraTitle = !ok ? why : !video ? "This is a voice call" : heldBack ? HELD_BACK : withShortcut(cameraOn ? "Turn your camera off" : "Turn your camera on", "camera");
  const sharing = media?.sharing ?? false;
  return html`<div class="control">
      <button type="button" class="round round-glass round-toggle" data-action="mute" aria-label="Mute" aria-pressed=${micOn ? "false" : "true"}
        ?disabled=${!canMute} title=${why || withShortcut(micOn ? "Mute your microphone" : "Unmute your microphone", "mute")}>${icon(micOn ? "mic" : "micOff")}</button>
      <span class="control-label" aria-hidden="true">${micOn ? "Mute" : "Muted"}</span>
    </div>
    <div class="control">
      <button type="button" class="round round-glass round-toggle" data-action="camera" aria-label="Camera off" aria-pressed=${ok && video ? (cameraOn ? "false" : "true") : nothing}
        ?disabled=${!canCamera} aria-busy=${media?.cameraBusy ? "true" : nothing} aria-describedby=${heldBack ? "held-back" : nothing}
        title=${cameraTitle}>${icon(cameraOn ? "video" : "videoOff")}</button>
      <span class="control-label" aria-hidden="true">${!ok || !video ? "Camera" : media?.cameraBusy ? "Starting…" : cameraOn ? "Stop video" : "Start video"}</span>
    </div>
    ${ok && media?.canShare
      ? html`<div class="control">
          <button type="button" class="round round-glass round-toggle" data-action="share-screen" aria-label="Share your screen" aria-pressed=${sharing ? "true" : "false"}
            title=${withShortcut(sharing ? "Stop sharing your screen" : "Share your screen", "share-screen")}>${icon("screen")}</button>
          <span class="control-label" aria-hidden="true">${sharing ? "Stop sharing" : "Share"}</span>
        </div>`
      : nothing}
    ${ok
      ? html`<div class="control">
          <button type="button" class="round round-glass" data-action="devices" aria-label="Devices" aria-expanded=${devicesOpen ? "true" : "false"} aria-controls="devices-pop"
            title="Choose your microphone, camera and speaker">${icon("sliders")}</button>
          <span class="control-label" aria-hidden="true">Devices</span>
        </div>`
      : nothing}`;
}
