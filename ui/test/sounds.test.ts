import { describe, expect, it, vi } from "vitest";
import {
  createSoundPlayer,
  DEFAULT_SOUND_PREFS,
  parseSoundPrefs,
  readSoundPrefs,
  RINGTONES,
  SOUND_PREFS_KEY,
  type SoundPrefs,
} from "../src/sounds";

class FakeParam {
  value = 0;
  setValueAtTime = vi.fn();
  linearRampToValueAtTime = vi.fn();
  cancelScheduledValues = vi.fn();
}

class FakeNode {
  connect = vi.fn();
  disconnect = vi.fn();
}

class FakeGain extends FakeNode {
  gain = new FakeParam();
}

class FakeOsc extends FakeNode {
  type = "sine";
  frequency = new FakeParam();
  start = vi.fn();
  stop = vi.fn();
}

function fakeWindow() {
  const made = { contexts: 0, oscillators: [] as FakeOsc[], gains: [] as FakeGain[], controls: [] as string[] };
  class Ctx {
    state = "running";
    currentTime = 0;
    destination = new FakeNode();
    constructor() {
      made.contexts++;
    }
    createGain() {
      const g = new FakeGain();
      made.gains.push(g);
      return g;
    }
    createOscillator() {
      const o = new FakeOsc();
      made.oscillators.push(o);
      return o;
    }
    resume() {
      made.controls.push("resume");
      return Promise.resolve();
    }
    suspend() {
      made.controls.push("suspend");
      return Promise.resolve();
    }
  }
  return { win: { AudioContext: Ctx, addEventListener: vi.fn() }, made };
}

describe("sounds", () => {
  it("without AudioContext: silent, never throws", () => {
    const p = createSoundPlayer({});
    expect(() => p.set("ringtone")).not.toThrow();
    expect(() => p.set("ringback")).not.toThrow();
    expect(() => p.set(null)).not.toThrow();
    expect(() => createSoundPlayer(undefined).set("ringtone")).not.toThrow();
  });

  it("a throwing AudioContext is swallowed", () => {
    const p = createSoundPlayer({
      AudioContext: class {
        constructor() {
          throw new Error("not allowed");
        }
      },
    });
    expect(() => p.set("ringtone")).not.toThrow();
    expect(p.current).toBe("ringtone");
  });

  it("synthesizes with oscillators and stops by cutting the output", () => {
    vi.useFakeTimers();
    const { win, made } = fakeWindow();
    const p = createSoundPlayer(win);
    p.set("ringback");
    expect(made.contexts).toBe(1);
    const freqs = made.oscillators.map((o) => o.frequency.setValueAtTime.mock.calls[0]?.[0]);
    expect(freqs).toEqual([440, 480]);
    const bus = made.gains[0];
    p.set("ringback"); // same sound: nothing new
    expect(made.oscillators).toHaveLength(2);
    vi.advanceTimersByTime(6000); // next period
    expect(made.oscillators).toHaveLength(4);
    p.set(null);
    expect(bus?.disconnect).toHaveBeenCalled();
    vi.advanceTimersByTime(12_000);
    expect(made.oscillators).toHaveLength(4);
    p.set("ringtone");
    expect(made.contexts).toBe(1);
    expect(made.oscillators.length).toBeGreaterThan(4);
    p.set(null);
    vi.useRealTimers();
  });
});

describe("the audio engine", () => {
  it("starts on prepare, paused, and runs only while a sound plays", () => {
    const { win, made } = fakeWindow();
    const p = createSoundPlayer(win);
    p.prepare();
    expect(made.contexts).toBe(1);
    expect(made.controls).toEqual(["suspend"]);
    p.set("ringtone");
    expect(made.contexts).toBe(1);
    expect(made.controls).toEqual(["suspend", "resume"]);
    p.set(null);
    expect(made.controls).toEqual(["suspend", "resume", "suspend"]);
  });

  it("a prepare while a sound plays leaves it playing", () => {
    const { win, made } = fakeWindow();
    const p = createSoundPlayer(win);
    p.set("ringback");
    p.prepare();
    expect(made.controls).toEqual(["resume"]);
    p.set(null);
  });
});

/** The frequencies of the oscillators made since `from`, in order. */
const freqsOf = (oscs: FakeOsc[], from = 0) => oscs.slice(from).map((o) => o.frequency.setValueAtTime.mock.calls[0]?.[0] as number);
/** When each oscillator of a pattern starts, and what it plays: the pattern's signature. */
const signatureOf = (oscs: FakeOsc[]) => oscs.map((o) => `${String(o.start.mock.calls[0]?.[0])}@${String(o.frequency.setValueAtTime.mock.calls[0]?.[0])}`).join(" ");

describe("sound preferences", () => {
  it("each ringtone is a pattern of its own", () => {
    const signatures = RINGTONES.map(({ id }) => {
      const { win, made } = fakeWindow();
      const p = createSoundPlayer(win, () => ({ ringtone: id, volume: 100 }));
      p.set("ringtone");
      p.set(null);
      return signatureOf(made.oscillators);
    });
    expect(RINGTONES.length).toBeGreaterThanOrEqual(3);
    expect(new Set(signatures).size).toBe(RINGTONES.length);
    expect(RINGTONES.map((t) => t.id)).toContain(DEFAULT_SOUND_PREFS.ringtone);
  });

  it("reads the ringtone and the volume when a sound starts, for ringtone and ringback", () => {
    vi.useFakeTimers();
    const { win, made } = fakeWindow();
    let prefs: SoundPrefs = { ringtone: "trill", volume: 100 };
    const p = createSoundPlayer(win, () => prefs);
    // Changed after the player was made (in another window): the next ring uses it.
    prefs = { ringtone: "classic", volume: 40 };
    p.set("ringtone");
    expect(made.gains[0]?.gain.value).toBeCloseTo(0.16);
    expect(freqsOf(made.oscillators)).toEqual([400, 450, 400, 450]);
    p.set(null);
    prefs = { ringtone: "chime", volume: 0 };
    const before = made.oscillators.length;
    const buses = made.gains.length;
    p.set("ringback");
    // 0 % is silence, ringback included.
    expect(made.gains[buses]?.gain.value).toBe(0);
    expect(freqsOf(made.oscillators, before)).toEqual([440, 480]);
    p.set(null);
    vi.useRealTimers();
  });

  it("refresh: a new volume reaches the playing sound in place; a new ringtone starts over", () => {
    vi.useFakeTimers();
    const { win, made } = fakeWindow();
    let prefs: SoundPrefs = { ringtone: "trill", volume: 100 };
    const p = createSoundPlayer(win, () => prefs);
    p.set("ringtone");
    const bus = made.gains[0]!;
    const count = made.oscillators.length;
    prefs = { ringtone: "trill", volume: 50 };
    p.refresh();
    expect(bus.gain.value).toBeCloseTo(0.25);
    expect(made.oscillators).toHaveLength(count);
    prefs = { ringtone: "chime", volume: 50 };
    p.refresh();
    expect(bus.disconnect).toHaveBeenCalled();
    expect(freqsOf(made.oscillators, count)).toEqual([1319, 1047, 784]);
    expect(p.current).toBe("ringtone");
    p.set(null);
    p.refresh(); // silent: nothing starts
    expect(p.current).toBe(null);
    vi.advanceTimersByTime(10_000);
    expect(made.oscillators).toHaveLength(count + 3);
    vi.useRealTimers();
  });

  it("beckon.sounds is checked on read: what is damaged counts as the default", () => {
    expect(parseSoundPrefs(JSON.stringify({ ringtone: "chime", volume: 40 }))).toEqual({ ringtone: "chime", volume: 40 });
    for (const raw of [null, "", "{", "[]", "42", '"chime"', "null", '{"ringtone":"siren","volume":"loud"}', '{"volume":101}', '{"volume":-1}'])
      expect(parseSoundPrefs(raw)).toEqual(DEFAULT_SOUND_PREFS);
    // Field by field: a ringtone a later version dropped keeps the volume.
    expect(parseSoundPrefs('{"ringtone":"siren","volume":30}')).toEqual({ ...DEFAULT_SOUND_PREFS, volume: 30 });
    expect(parseSoundPrefs('{"ringtone":"classic","volume":1e999}')).toEqual({ ringtone: "classic", volume: DEFAULT_SOUND_PREFS.volume });
    const refusing = { getItem: () => { throw new Error("denied"); }, setItem: () => undefined };
    expect(readSoundPrefs(refusing)).toEqual(DEFAULT_SOUND_PREFS);
    expect(readSoundPrefs({ getItem: (k: string) => (k === SOUND_PREFS_KEY ? '{"ringtone":"classic","volume":5}' : null), setItem: () => undefined })).toEqual({ ringtone: "classic", volume: 5 });
  });
});
