// Ringtone (incoming popup) and ringback (waiting page), synthesized with WebAudio.
// No audio files. Every call into WebAudio is guarded: without an AudioContext (or when
// the webview refuses one) this is silent and never throws.

export type SoundKind = "ringtone" | "ringback";

export interface SoundPlayer {
  /** Switches to this sound (null: silence). Calling it again with the same kind is a no-op. */
  set(kind: SoundKind | null): void;
  readonly current: SoundKind | null;
  /**
   * The preferences changed: a playing sound takes the new volume at once, and a ringtone
   * that is no longer the chosen one starts over as the new one.
   */
  refresh(): void;
  /**
   * Starts the audio engine now, paused: a webview's first AudioContext starts its audio
   * back end (GStreamer on Linux), work the first ring would otherwise do while the popup
   * is being drawn.
   */
  prepare(): void;
}

export type RingtoneId = "trill" | "chime" | "classic";

/** This installation's choice (UI preferences, not account settings). */
export type SoundPrefs = { ringtone: RingtoneId; volume: number };

export const SOUND_PREFS_KEY = "beckon.sounds";

/** Volume 100 plays the patterns at their own gain, as before there was a choice. */
export const DEFAULT_SOUND_PREFS: SoundPrefs = { ringtone: "trill", volume: 100 };

type Ctor = new () => AudioContext;

/** A tone burst within one period of a pattern. */
type Burst = { at: number; dur: number; freqs: number[] };

type Pattern = { period: number; gain: number; bursts: Burst[] };

// The North American ringback: 440 + 480 Hz, two seconds on, four off.
const RINGBACK: Pattern = { period: 6, gain: 0.07, bursts: [{ at: 0.05, dur: 2, freqs: [440, 480] }] };

const RINGTONE_PATTERNS: Record<RingtoneId, Pattern> = {
  // A soft two-note trill, twice, then a pause.
  trill: {
    period: 3,
    gain: 0.12,
    bursts: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({
      at: 0.05 + i * 0.13 + (i >= 4 ? 0.35 : 0),
      dur: 0.11,
      freqs: i % 2 === 0 ? [784] : [988],
    })),
  },
  // Three falling notes (E6, C6, G5), the last held, then a pause.
  chime: {
    period: 3,
    gain: 0.12,
    bursts: [
      { at: 0.05, dur: 0.28, freqs: [1319] },
      { at: 0.38, dur: 0.28, freqs: [1047] },
      { at: 0.71, dur: 0.6, freqs: [784] },
    ],
  },
  // The British double ring: 400 + 450 Hz, on 0.4 s, off 0.2 s, on 0.4 s, then a pause.
  classic: {
    period: 3,
    gain: 0.08,
    bursts: [
      { at: 0.05, dur: 0.4, freqs: [400, 450] },
      { at: 0.65, dur: 0.4, freqs: [400, 450] },
    ],
  },
};

/** The choices the settings page offers, in its order. */
export const RINGTONES: ReadonlyArray<{ id: RingtoneId; label: string }> = [
  { id: "trill", label: "Trill" },
  { id: "chime", label: "Chime" },
  { id: "classic", label: "Classic" },
];

/**
 * The stored preferences, checked: anything unreadable counts as the default. Each field
 * is checked alone, so a ringtone a later version no longer has keeps the volume.
 */
export function parseSoundPrefs(raw: string | null): SoundPrefs {
  let v: unknown;
  try {
    v = raw === null ? null : JSON.parse(raw);
  } catch {
    v = null;
  }
  const o = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const ringtone = RINGTONES.find((t) => t.id === o.ringtone)?.id ?? DEFAULT_SOUND_PREFS.ringtone;
  const volume =
    typeof o.volume === "number" && Number.isFinite(o.volume) && o.volume >= 0 && o.volume <= 100
      ? Math.round(o.volume)
      : DEFAULT_SOUND_PREFS.volume;
  return { ringtone, volume };
}

type PrefsStore = Pick<Storage, "getItem" | "setItem">;

export function readSoundPrefs(store: PrefsStore | null): SoundPrefs {
  try {
    return parseSoundPrefs(store?.getItem(SOUND_PREFS_KEY) ?? null);
  } catch {
    // A document without storage access throws on reading too.
    return { ...DEFAULT_SOUND_PREFS };
  }
}

/** False when the store refused (full, or no storage access). */
export function writeSoundPrefs(store: PrefsStore, prefs: SoundPrefs): boolean {
  try {
    store.setItem(SOUND_PREFS_KEY, JSON.stringify(prefs));
    return true;
  } catch {
    return false;
  }
}

/** Loudness is heard roughly logarithmically: a squared slider spreads it more evenly than a linear one. */
function busGain(volume: number): number {
  const v = Math.min(100, Math.max(0, volume)) / 100;
  return v * v;
}

function audioContextCtor(win: unknown): Ctor | null {
  const w = win as { AudioContext?: Ctor; webkitAudioContext?: Ctor } | undefined;
  return w?.AudioContext ?? w?.webkitAudioContext ?? null;
}

/**
 * `prefs` is asked each time a sound starts and on refresh(), so a window that has been
 * open for hours (the popup) rings with the choice made since in another window.
 */
export function createSoundPlayer(
  win: unknown = typeof window !== "undefined" ? window : undefined,
  prefs: () => SoundPrefs = () => DEFAULT_SOUND_PREFS,
): SoundPlayer {
  let ctx: AudioContext | null = null;
  let failed = false;
  let current: SoundKind | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let bus: GainNode | null = null;
  /** The pattern playing now (to tell whether a refresh must start over). */
  let playing: Pattern | null = null;

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

  const patternFor = (kind: SoundKind, p: SoundPrefs): Pattern => (kind === "ringback" ? RINGBACK : RINGTONE_PATTERNS[p.ringtone]);

  /** A silent context is paused, so an idle app keeps no audio thread busy. */
  const pause = (): void => {
    try {
      void ctx?.suspend().catch(() => undefined);
    } catch {
      /* ignore */
    }
  };

  const stop = (): void => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    playing = null;
    const b = bus;
    bus = null;
    if (b) pause();
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
      // Unconditionally: a pause asked a moment ago may not show in `state` yet, and the
      // context applies suspend and resume in the order asked.
      void ac.resume().catch(() => undefined);
      const p = prefs();
      const out = ac.createGain();
      out.gain.value = busGain(p.volume);
      out.connect(ac.destination);
      bus = out;
      const pattern = patternFor(kind, p);
      playing = pattern;
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
    prepare(): void {
      if (context() && !current) pause();
    },
    refresh(): void {
      if (!current || !bus) return;
      const p = prefs();
      if (patternFor(current, p) !== playing) {
        stop();
        start(current);
        return;
      }
      try {
        bus.gain.value = busGain(p.volume);
      } catch {
        /* ignore */
      }
    },
  };
}
