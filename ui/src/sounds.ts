// Ringtone (incoming popup) and ringback (waiting page), synthesized with WebAudio.
// No audio files. Every call into WebAudio is guarded: without an AudioContext (or when
// the webview refuses one) this is silent and never throws.

export type SoundKind = "ringtone" | "ringback";

export interface SoundPlayer {
  /** Switches to this sound (null: silence). Calling it again with the same kind is a no-op. */
  set(kind: SoundKind | null): void;
  readonly current: SoundKind | null;
}

type Ctor = new () => AudioContext;

/** A tone burst within one period of a pattern. */
type Burst = { at: number; dur: number; freqs: number[] };

type Pattern = { period: number; gain: number; bursts: Burst[] };

const PATTERNS: Record<SoundKind, Pattern> = {
  // The North American ringback: 440 + 480 Hz, two seconds on, four off.
  ringback: { period: 6, gain: 0.07, bursts: [{ at: 0.05, dur: 2, freqs: [440, 480] }] },
  // A soft two-note trill, twice, then a pause.
  ringtone: {
    period: 3,
    gain: 0.12,
    bursts: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({
      at: 0.05 + i * 0.13 + (i >= 4 ? 0.35 : 0),
      dur: 0.11,
      freqs: i % 2 === 0 ? [784] : [988],
    })),
  },
};

function audioContextCtor(win: unknown): Ctor | null {
  const w = win as { AudioContext?: Ctor; webkitAudioContext?: Ctor } | undefined;
  return w?.AudioContext ?? w?.webkitAudioContext ?? null;
}

export function createSoundPlayer(win: unknown = typeof window !== "undefined" ? window : undefined): SoundPlayer {
  let ctx: AudioContext | null = null;
  let failed = false;
  let current: SoundKind | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let bus: GainNode | null = null;

  const context = (): AudioContext | null => {
    if (ctx || failed) return ctx;
    try {
      const Ctor = audioContextCtor(win);
      if (!Ctor) {
        failed = true;
        return null;
      }
      ctx = new Ctor();
      // Webviews may start the context suspended until the user touches the window.
      const resume = (): void => {
        try {
          void ctx?.resume().catch(() => undefined);
        } catch {
          /* ignore */
        }
      };
      const w = win as { addEventListener?: (t: string, f: () => void, o?: unknown) => void };
      w.addEventListener?.("pointerdown", resume, { once: true });
      w.addEventListener?.("keydown", resume, { once: true });
    } catch {
      failed = true;
      ctx = null;
    }
    return ctx;
  };

  const schedule = (ac: AudioContext, out: GainNode, pattern: Pattern): void => {
    const start = ac.currentTime;
    for (const burst of pattern.bursts) {
      const t0 = start + burst.at;
      const t1 = t0 + burst.dur;
      const env = ac.createGain();
      env.gain.setValueAtTime(0, t0);
      env.gain.linearRampToValueAtTime(pattern.gain, t0 + 0.02);
      env.gain.setValueAtTime(pattern.gain, Math.max(t0 + 0.02, t1 - 0.03));
      env.gain.linearRampToValueAtTime(0, t1);
      env.connect(out);
      for (const f of burst.freqs) {
        const osc = ac.createOscillator();
        osc.type = "sine";
        osc.frequency.setValueAtTime(f, t0);
        osc.connect(env);
        osc.start(t0);
        osc.stop(t1 + 0.01);
      }
    }
  };

  const stop = (): void => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    const b = bus;
    bus = null;
    if (b) {
      try {
        b.gain.cancelScheduledValues(0);
        b.gain.value = 0;
        b.disconnect();
      } catch {
        /* ignore */
      }
    }
  };

  const start = (kind: SoundKind): void => {
    const ac = context();
    if (!ac) return;
    try {
      if (ac.state === "suspended") void ac.resume().catch(() => undefined);
      const out = ac.createGain();
      out.gain.value = 1;
      out.connect(ac.destination);
      bus = out;
      const pattern = PATTERNS[kind];
      schedule(ac, out, pattern);
      timer = setInterval(() => {
        try {
          if (bus === out) schedule(ac, out, pattern);
        } catch {
          stop();
        }
      }, pattern.period * 1000);
    } catch {
      stop();
    }
  };

  return {
    get current() {
      return current;
    },
    set(kind: SoundKind | null): void {
      if (kind === current) return;
      stop();
      current = kind;
      if (kind) start(kind);
    },
  };
}
