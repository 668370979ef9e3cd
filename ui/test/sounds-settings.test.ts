// The settings page's Sounds card: the ringtone and volume are this installation's, stored
// in localStorage (beckon.sounds) as they change, and the popup hears of them.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { SETTINGS, fixtures, history, snapshot } from "../src/fixtures";
import { SOUND_PREFS_KEY } from "../src/sounds";
import type { Snapshot } from "../src/types";
import { FakeSounds, flush, NOW, text } from "./helpers";

let root: HTMLElement;
let t: FakeTransport;
let sounds: FakeSounds;
let app: App;

async function start(opts: { kind?: "main" | "popup"; snapshot?: Snapshot } = {}): Promise<void> {
  t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: opts.snapshot ?? snapshot() }), history: () => history(NOW) });
  sounds = new FakeSounds();
  app = new App({ api: createApi(t), root, kind: opts.kind ?? "main", sounds, now: () => NOW });
  await app.start();
  await flush();
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => root.querySelector<T>(sel);
const stored = () => JSON.parse(localStorage.getItem(SOUND_PREFS_KEY) ?? "null") as unknown;

function change(sel: string, set: (el: HTMLInputElement) => void): void {
  const el = $<HTMLInputElement>(sel);
  if (!el) throw new Error(`no ${sel}`);
  set(el);
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

beforeEach(() => {
  localStorage.clear();
  document.body.innerHTML = '<div id="app"></div>';
  root = document.getElementById("app") as HTMLElement;
});

afterEach(() => app?.dispose());

describe("Sounds on the settings page", () => {
  it("a ringtone and volume chosen are stored and played by at once, without Save and sign in", async () => {
    await start();
    await app.act("edit-settings");
    change('input[name="ringtone"][value="classic"]', (el) => (el.checked = true));
    change("#set-volume", (el) => (el.value = "40"));
    expect(stored()).toEqual({ ringtone: "classic", volume: 40 });
    expect(sounds.refreshes).toBe(2);
    expect(t.commands()).not.toContain("save_settings");
    // The same slider node, now saying its value.
    expect($("#set-volume")?.getAttribute("aria-valuetext")).toBe("40 %");
    expect(text($(".volume-value"))).toBe("40 %");
    // Still here on a later start: read back from storage.
    app.dispose();
    root.replaceChildren();
    await start();
    await app.act("edit-settings");
    expect($<HTMLInputElement>('input[name="ringtone"][value="classic"]')?.checked).toBe(true);
    expect($<HTMLInputElement>("#set-volume")?.value).toBe("40");
  });

  it("a damaged beckon.sounds shows and plays as the defaults", async () => {
    localStorage.setItem(SOUND_PREFS_KEY, "{not json");
    await start();
    await app.act("edit-settings");
    expect($<HTMLInputElement>('input[name="ringtone"]:checked')?.value).toBe("trill");
    expect($<HTMLInputElement>("#set-volume")?.value).toBe("100");
  });

  it("Play rings the chosen ringtone until Stop, or until the page is left", async () => {
    await start();
    await app.act("edit-settings");
    $('[data-action="preview-ringtone"]')?.click();
    await flush();
    expect(sounds.current).toBe("ringtone");
    expect(text($('[data-action="preview-ringtone"]'))).toBe("Stop");
    $('[data-action="preview-ringtone"]')?.click();
    await flush();
    expect(sounds.current).toBe(null);
    $('[data-action="preview-ringtone"]')?.click();
    await flush();
    expect(sounds.current).toBe("ringtone");
    await app.act("cancel-settings");
    expect(app.page).toBe("home");
    expect(sounds.current).toBe(null);
    await app.act("edit-settings");
    expect(text($('[data-action="preview-ringtone"]'))).toBe("Play");
    expect(sounds.current).toBe(null);
  });

  it("a store that refuses: says so, and the controls show what is still stored", async () => {
    const kept = JSON.stringify({ ringtone: "chime", volume: 60 });
    const storage = { getItem: (k: string) => (k === SOUND_PREFS_KEY ? kept : null), setItem: () => { throw new Error("QuotaExceededError"); } };
    t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: snapshot() }), history: () => history(NOW) });
    sounds = new FakeSounds();
    app = new App({ api: createApi(t), root, kind: "main", sounds, now: () => NOW, storage });
    await app.start();
    await flush();
    await app.act("edit-settings");
    change("#set-volume", (el) => (el.value = "10"));
    expect(text($(".toast"))).toContain("Couldn't keep the sound settings");
    expect($<HTMLInputElement>("#set-volume")?.value).toBe("60");
    expect(app.model.soundPrefs).toEqual({ ringtone: "chime", volume: 60 });
  });

  it("first run has the Sounds card too", async () => {
    t = new FakeTransport({ app_state: () => ({ settings: null, snapshot: null }) });
    sounds = new FakeSounds();
    app = new App({ api: createApi(t), root, kind: "main", sounds, now: () => NOW });
    await app.start();
    await flush();
    expect(app.page).toBe("settings");
    expect($(".sounds-card #set-volume")).not.toBeNull();
  });

  it("the ringing popup hears of a change made in the main window (the storage event)", async () => {
    await start({ kind: "popup", snapshot: fixtures.incoming(NOW) });
    expect(sounds.current).toBe("ringtone");
    localStorage.setItem(SOUND_PREFS_KEY, JSON.stringify({ ringtone: "chime", volume: 20 }));
    window.dispatchEvent(new StorageEvent("storage", { key: SOUND_PREFS_KEY }));
    expect(sounds.refreshes).toBe(1);
    expect(app.model.soundPrefs).toEqual({ ringtone: "chime", volume: 20 });
    window.dispatchEvent(new StorageEvent("storage", { key: "beckon.missedSeenAt.alice" }));
    expect(sounds.refreshes).toBe(1);
  });

  it("the app's own player rings the popup with what is stored when the ringing starts", async () => {
    const made: { freq: number[]; gain: number[] } = { freq: [], gain: [] };
    const param = (out: number[]) => ({
      set value(v: number) {
        out.push(v);
      },
      get value() {
        return out.at(-1) ?? 0;
      },
      setValueAtTime: (v: number) => out === made.freq && out.push(v),
      linearRampToValueAtTime: () => undefined,
      cancelScheduledValues: () => undefined,
    });
    const node = () => ({ connect: () => undefined, disconnect: () => undefined });
    class Ctx {
      state = "running";
      currentTime = 0;
      destination = node();
      createGain() {
        return { ...node(), gain: param(made.gain) };
      }
      createOscillator() {
        return { ...node(), type: "sine", frequency: param(made.freq), start: () => undefined, stop: () => undefined };
      }
      resume() {
        return Promise.resolve();
      }
    }
    (window as unknown as { AudioContext: unknown }).AudioContext = Ctx;
    try {
      t = new FakeTransport({ app_state: () => ({ settings: SETTINGS, snapshot: snapshot() }) });
      app = new App({ api: createApi(t), root, kind: "popup", now: () => NOW });
      await app.start();
      await flush();
      // Chosen in the main window after this popup opened, before the call came.
      localStorage.setItem(SOUND_PREFS_KEY, JSON.stringify({ ringtone: "classic", volume: 50 }));
      app.applyUpdate({ notice: { kind: "changed" }, snapshot: fixtures.incoming(NOW) });
      expect(app.sounds.current).toBe("ringtone");
      expect(made.freq.slice(0, 4)).toEqual([400, 450, 400, 450]);
      expect(made.gain[0]).toBeCloseTo(0.25);
    } finally {
      delete (window as unknown as { AudioContext?: unknown }).AudioContext;
    }
  });
});
