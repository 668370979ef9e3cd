// WCAG 2.2 AA contrast of every colour pair the UI draws, read from the tokens in
// styles.css: text on its background 4.5:1 (SC 1.4.3); borders that show where a control
// is, the focus ring and icons on buttons 3:1 (SC 1.4.11). Translucent tokens are laid
// over what they sit on before measuring.
import { describe, expect, it } from "vitest";
import { readStyles } from "./helpers";

type Rgba = [number, number, number, number];

function tokens(css: string): Map<string, string> {
  const root = /:root\s*\{([^}]*)\}/.exec(css)?.[1] ?? "";
  const out = new Map<string, string>();
  for (const m of root.matchAll(/(--[\w-]+)\s*:\s*([^;]+);/g)) out.set(m[1]!, m[2]!.trim());
  return out;
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

/**
 * [foreground, background (bottom layer first; later layers are laid over it), minimum, where].
 * Names are tokens without the leading "--"; "#fff" is literal white.
 */
const PAIRS: [string, string[], number, string][] = [
  // Light pages: home, settings.
  ["text", ["bg"], TEXT, "body text"],
  ["text", ["surface"], TEXT, "card text"],
  ["text-2", ["surface"], TEXT, "labels"],
  ["text-2", ["bg"], TEXT, "labels on the page"],
  ["muted", ["surface"], TEXT, "hints, history meta"],
  ["muted", ["surface-2"], TEXT, "hints on raised rows"],
  ["muted", ["bg"], TEXT, "hints on the page"],
  ["placeholder", ["surface"], TEXT, "input placeholder"],
  ["accent", ["surface"], TEXT, "links"],
  ["#fff", ["accent"], TEXT, "primary button text"],
  ["bad-fg", ["surface"], TEXT, "field errors"],
  ["ok-fg", ["ok-bg"], TEXT, "ok pill"],
  ["warn-fg", ["warn-bg"], TEXT, "warn pill / note"],
  ["bad-fg", ["bad-bg"], TEXT, "bad pill / note"],
  ["info-fg", ["info-bg"], TEXT, "info pill"],
  ["muted-fg", ["muted-bg"], TEXT, "muted pill"],
  ["input-border", ["surface"], NON_TEXT, "text box border"],
  ["invalid-border", ["surface"], NON_TEXT, "invalid text box border"],
  ["focus-ring", ["surface"], NON_TEXT, "focus ring on cards"],
  ["focus-ring", ["bg"], NON_TEXT, "focus ring on the page"],
  ["#fff", ["toast-bg"], TEXT, "toast"],
  ["#fff", ["toast-bad-bg"], TEXT, "error toast"],
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

describe("colour contrast (WCAG 2.2 AA)", () => {
  const t = tokens(readStyles());
  const colour = (name: string): Rgba => {
    if (name.startsWith("#")) return parse(name);
    const v = t.get(`--${name}`);
    if (!v) throw new Error(`no token --${name} in :root`);
    return parse(v);
  };

  it("the ratio is computed as WCAG defines it", () => {
    expect(ratio([0, 0, 0, 1], [255, 255, 255, 1])).toBeCloseTo(21, 5);
    expect(ratio(parse("#767676"), parse("#ffffff"))).toBeCloseTo(4.54, 2);
  });

  it.each(PAIRS)("%s on %j: at least %d:1 (%s)", (fg, layers, min) => {
    const bg = layers.map(colour).reduce((under, top) => over(top, under));
    const r = ratio(over(colour(fg), bg), bg);
    expect(r).toBeGreaterThanOrEqual(min);
  });
});
