// The microphone, camera and speaker choices: one set of selects, shown on the settings
// page's Devices card and in the call's Devices popover. A change goes straight to the
// media module (incall-actions.ts): like the sounds, it belongs to this installation, not
// to the account, so nothing waits for "Save".
import { html, nothing, type TemplateResult } from "lit-html";
import { repeat } from "lit-html/directives/repeat.js";
import { icon } from "../icons";
import type { DeviceKind, DeviceOption, Devices, MediaView } from "../media/controller";

const KINDS: { kind: DeviceKind; label: string }[] = [
  { kind: "microphone", label: "Microphone" },
  { kind: "camera", label: "Camera" },
  { kind: "speaker", label: "Speaker" },
];

export const NO_NAMES_YET = "Device names appear after Beckon first uses your microphone or camera.";
export const NO_SPEAKER_CHOICE = "Sound plays on the system's speaker: this window can't send it to another one.";

/** The system knows the devices but won't name them before the first permission. */
export function devicesUnnamed(d: Devices): boolean {
  return d.microphone.length === 0 && d.camera.length === 0 && d.speaker.length === 0;
}

function options(list: DeviceOption[], chosen: string | null): DeviceOption[] {
  // A chosen device that is unplugged stays listed, so the select doesn't claim "default".
  return chosen !== null && !list.some((o) => o.deviceId === chosen) ? [...list, { deviceId: chosen, label: "Chosen device (not connected)" }] : list;
}

/** The three labelled selects; `prefix` keeps ids unique where two sets could coexist. */
export function deviceSelects(d: Devices, prefix: string): TemplateResult {
  return html`${devicesUnnamed(d) ? html`<p class="hint device-unnamed" role="note">${NO_NAMES_YET}</p>` : nothing}${KINDS.map(({ kind, label }) => {
    const id = `${prefix}-${kind}`;
    const chosen = d.chosen[kind];
    const locked = kind === "speaker" && !d.canChooseSpeaker;
    return html`<div class="field device-field">
      <label for=${id}>${label}</label>
      <select id=${id} class="device-select" data-device=${kind} ?disabled=${locked} aria-describedby=${locked ? `${id}-hint` : nothing}>
        <option value="" ?selected=${chosen === null}>System default</option>
        ${repeat(
          options(d[kind], chosen),
          (o) => o.deviceId,
          (o) => html`<option value=${o.deviceId} ?selected=${o.deviceId === chosen}>${o.label || `${label} ${o.deviceId.slice(0, 6)}`}</option>`,
        )}
      </select>
      ${locked ? html`<p class="hint" id="${id}-hint">${NO_SPEAKER_CHOICE}</p>` : nothing}
    </div>`;
  })}`;
}

/** Settings: its own card, applied as it changes. */
export function devicesCard(media: MediaView | null | undefined): TemplateResult | typeof nothing {
  if (!media?.supported) return nothing;
  return html`<section class="card settings-card devices-card" aria-labelledby="devices-title" aria-describedby="devices-lead">
    <div class="settings-head">
      <h2 id="devices-title">Devices</h2>
      <p class="lead" id="devices-lead">Which microphone, camera and speaker calls use on this computer. Changes apply at once, in a call too. “System default” follows your computer's setting.</p>
    </div>
    ${deviceSelects(media.devices, "set-dev")}
  </section>`;
}

/** In a call: the same choices in a small panel over the controls (the Devices button opens it). */
export function devicesPopover(media: MediaView): TemplateResult {
  return html`<section class="devices-pop" id="devices-pop" role="dialog" aria-labelledby="devices-pop-title">
    <div class="devices-pop-head">
      <h2 id="devices-pop-title">Devices</h2>
      <button type="button" class="icon-btn devices-pop-close" data-action="close-devices" aria-label="Close devices">${icon("close", "icon-sm")}</button>
    </div>
    ${deviceSelects(media.devices, "call-dev")}
  </section>`;
}
