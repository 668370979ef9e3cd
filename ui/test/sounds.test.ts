import { describe, expect, it, vi } from "vitest";
import { createSoundPlayer } from "../src/sounds";

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
  const made = { contexts: 0, oscillators: [] as FakeOsc[], gains: [] as FakeGain[] };
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
