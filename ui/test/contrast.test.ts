// WCAG 2.2 AA contrast of every colour pair the UI draws, read from the tokens in
// styles.css: text on its background 4.5:1 (SC 1.4.3); borders that show where a control
// is, the focus ring and icons on buttons 3:1 (SC 1.4.11). Translucent tokens are laid
// over what they sit on before measuring. Measured twice: with the light tokens, and with
// the dark theme's (the light ones overridden by its `prefers-color-scheme: dark` block).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readStyles } from "./helpers";

type Rgba = [number, number, number, number];

function declarations(block: string, into = new Map<string, string>()): Map<string, string> {
  for (const m of block.matchAll(/(--[\w-]+)\s*:\s*([^;]+);/g)) into.set(m[1]!, m[2]!.trim());
  return into;
}

/** The light tokens (the first `:root`), and the dark theme's overrides alone. */
function themes(css: string): { light: Map<string, string>; darkOnly: Map<string, string> } {
  const light = declarations(/:root\s*\{([^}]*)\}/.exec(css)?.[1] ?? "");
  const dark = /@media \(prefers-color-scheme: dark\)\s*\{\s*:root\s*\{([^}]*)\}/.exec(css)?.[1] ?? "";
  return { light, darkOnly: declarations(dark) };
}

function parse(v: string): Rgba {
  const hex = /^#([0-9a-f]{6})$/i.exec(v);
  if (hex) {
    const n = parseInt(hex[1]!, 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255, 1];
  }
  const rgba = /^rgba?\(\s*(\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\s*\)$/.exec(v);
  if (rgba) return [Number(rgba[1]), Number(rgba[2]), Number(rgba[3]), rgba[4] === undefined ? 1 : Number(rgba[4])];
  if (v === "#fff" || v === "#ffffff") return [255, 255, 255, 1];
  throw new Error(`not a colour: ${v}`);
}

/** `top` laid over `under`. */
function over(top: Rgba, under: Rgba): Rgba {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i]! * a + under[i]! * (1 - a)).concat(1) as Rgba;
}

function luminance(c: Rgba): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

export function ratio(a: Rgba, b: Rgba): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT = 4.5;
const NON_TEXT = 3;

type Pair = [string, string[], number, string];

/**
 * [foreground, background (bottom layer first; later layers are laid over it), minimum, where].
 * Names are tokens without the leading "--"; "#fff" is literal white; "name@0.85" is the
 * token drawn at that opacity.
 */
const PAGE_PAIRS: Pair[] = [
  // Home and settings, which follow the OS theme.
  ["text", ["bg"], TEXT, "body text"],
  ["text", ["surface"], TEXT, "card text"],
  ["text-2", ["surface"], TEXT, "labels"],
  ["text-2", ["bg"], TEXT, "labels on the page"],
  ["muted", ["surface"], TEXT, "hints, history meta"],
  ["muted", ["surface-2"], TEXT, "hints on raised rows"],
  ["muted", ["bg"], TEXT, "hints on the page"],
  ["placeholder", ["surface"], TEXT, "input placeholder"],
  ["accent", ["surface"], TEXT, "links"],
  ["on-accent", ["accent"], TEXT, "primary button text"],
  ["on-accent", ["accent-hover"], TEXT, "primary button text, hovered"],
  ["accent-hover", ["accent-soft"], TEXT, "secondary button text"],
  ["accent-hover", ["accent-soft-hover"], TEXT, "secondary button text, hovered"],
  ["text-2", ["muted-bg"], TEXT, "ghost button and icon buttons, hovered"],
  ["text", ["muted-bg"], TEXT, "icon buttons, hovered"],
  ["text", ["bg", "topbar-bg"], TEXT, "top bar name"],
  ["text-2", ["bg", "topbar-bg"], NON_TEXT, "top bar settings icon"],
  ["text", ["surface-2"], TEXT, "history names on a hovered row"],
  ["bad-fg", ["surface-2"], TEXT, "missed-call names on a hovered row"],
  ["ok-fg", ["surface"], TEXT, "call in progress in the history"],
  ["accent", ["surface-2"], NON_TEXT, "call-back icon on a hovered row"],
  ["banner-info-fg", ["info-bg"], TEXT, "info banner title"],
  ["banner-warn-fg", ["warn-bg"], TEXT, "warning banner title"],
  ["banner-bad-fg", ["bad-bg"], TEXT, "bad banner title"],
  ["banner-info-fg@0.85", ["info-bg"], TEXT, "info banner detail"],
  ["banner-warn-fg@0.85", ["warn-bg"], TEXT, "warning banner detail"],
  ["banner-bad-fg@0.85", ["bad-bg"], TEXT, "bad banner detail"],
  ["banner-info-fg", ["info-bg", "banner-icon-bg"], NON_TEXT, "info banner icon"],
  ["banner-warn-fg", ["warn-bg", "banner-icon-bg"], NON_TEXT, "warning banner icon"],
  ["banner-bad-fg", ["bad-bg", "banner-icon-bg"], NON_TEXT, "bad banner icon"],
  ["banner-bad-fg", ["bad-bg", "banner-hover"], NON_TEXT, "banner dismiss icon, hovered"],
  ["bad-fg", ["surface"], TEXT, "field errors"],
  ["ok-fg", ["ok-bg"], TEXT, "ok pill"],
  ["warn-fg", ["warn-bg"], TEXT, "warn pill / note"],
  ["bad-fg", ["bad-bg"], TEXT, "bad pill / note"],
  ["info-fg", ["info-bg"], TEXT, "info pill"],
  ["muted-fg", ["muted-bg"], TEXT, "muted pill"],
  ["input-border", ["surface"], NON_TEXT, "text box border, a ringtone choice's border"],
  ["accent-hover", ["accent-soft"], TEXT, "the chosen ringtone"],
  ["accent", ["surface"], NON_TEXT, "the chosen ringtone's border, the volume slider"],
  ["invalid-border", ["surface"], NON_TEXT, "invalid text box border"],
  ["focus-ring", ["surface"], NON_TEXT, "focus ring on cards"],
  ["focus-ring", ["bg"], NON_TEXT, "focus ring on the page"],
  ["#fff", ["toast-bg"], TEXT, "toast"],
  ["#fff", ["toast-bad-bg"], TEXT, "error toast"],
];

const STAGE_PAIRS: Pair[] = [
  // The dark call stage; its glow is the lightest spot behind anything.
  ["#fff", ["stage-bg", "stage-glow"], TEXT, "stage titles"],
  ["stage-text-2", ["stage-bg"], TEXT, "control labels"],
  ["stage-text-2", ["stage-bg", "stage-glow"], TEXT, "control labels in the glow"],
  ["stage-focus", ["stage-bg", "stage-glow"], NON_TEXT, "focus ring on the stage"],
  ["stage-input-border", ["stage-bg", "stage-glow"], NON_TEXT, "invite box border"],
  ["stage-placeholder", ["stage-bg", "stage-glow"], TEXT, "invite box placeholder"],
  ["end-all-fg", ["stage-bg", "stage-glow", "glass"], TEXT, "End for everyone"],
  ["stage-focus", ["popup-bg"], NON_TEXT, "focus ring in the incoming popup"],
  ["stage-text-2", ["popup-bg"], TEXT, "labels in the incoming popup"],
  ["#fff", ["green"], NON_TEXT, "icon on Accept"],
  ["#fff", ["green-hover"], NON_TEXT, "icon on Accept, hovered"],
  ["#fff", ["red"], NON_TEXT, "icon on Decline / Hang up / Leave"],
  ["#fff", ["red-hover"], NON_TEXT, "icon on red buttons, hovered"],
  ["#fff", ["stage-bg", "stage-glow", "glass"], NON_TEXT, "icons on glass buttons"],
];

const { light, darkOnly } = themes(readStyles());
const THEMES: [string, Map<string, string>][] = [
  ["light", light],
  ["dark", new Map([...light, ...darkOnly])],
];

const token = (name: string) => name.replace(/@.*$/, "");

describe("colour contrast (WCAG 2.2 AA)", () => {
  it("the ratio is computed as WCAG defines it", () => {
    expect(ratio([0, 0, 0, 1], [255, 255, 255, 1])).toBeCloseTo(21, 5);
    expect(ratio(parse("#767676"), parse("#ffffff"))).toBeCloseTo(4.54, 2);
  });

  it("the dark theme sets every token the pages draw with (none falls back to a light one)", () => {
    const used = new Set(PAGE_PAIRS.flatMap(([fg, bgs]) => [fg, ...bgs]).filter((n) => !n.startsWith("#")).map(token));
    // The error toast is dark red with white text in both themes.
    expect([...used].filter((n) => !darkOnly.has(`--${n}`))).toEqual(["toast-bad-bg"]);
  });

  it("the home and settings rules take their colours from tokens, so the dark theme reaches them", () => {
    const root = resolve(__dirname, "../src/styles");
    const literal = /#[0-9a-f]{3,8}\b|rgba?\(|hsla?\(/i;
    const found: string[] = [];
    for (const file of ["shell.css", "blocks.css", "pages.css"]) {
      for (const rule of readFileSync(resolve(root, file), "utf8").matchAll(/([^{}]+)\{([^}]*)\}/g)) {
        const selector = rule[1]!.replace(/\/\*[\s\S]*?\*\//g, "").trim();
        // The brand mark and the avatars look the same in both themes; shadows aren't colours to read.
        if (/brand-mark|avatar/.test(selector)) continue;
        for (const d of rule[2]!.matchAll(/([\w-]+)\s*:\s*([^;]+);/g))
          if (d[1] !== "box-shadow" && literal.test(d[2]!)) found.push(`${file}: ${selector} { ${d[1]}: ${d[2]} }`);
      }
    }
    expect(found).toEqual([]);
  });

  describe.each(THEMES)("%s theme", (_theme, t) => {
    const colour = (name: string): Rgba => {
      if (name.startsWith("#")) return parse(name);
      const v = t.get(`--${token(name)}`);
      if (!v) throw new Error(`no token --${token(name)} in :root`);
      const c = parse(v);
      const alpha = /@([\d.]+)$/.exec(name);
      return alpha ? [c[0], c[1], c[2], c[3] * Number(alpha[1])] : c;
    };

    it.each([...PAGE_PAIRS, ...STAGE_PAIRS])("%s on %j: at least %d:1 (%s)", (fg, layers, min) => {
      const bg = layers.map(colour).reduce((under, top) => over(top, under));
      const r = ratio(over(colour(fg), bg), bg);
      expect(r).toBeGreaterThanOrEqual(min);
    });
  });
});
