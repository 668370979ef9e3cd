import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { render, type TemplateResult } from "lit-html";
import type { SoundKind, SoundPlayer } from "../src/sounds";

export const NOW = Date.UTC(2025, 2, 14, 15, 30, 0);

/** Renders a template into a detached element for querying. */
export function mount(template: TemplateResult): HTMLElement {
  const el = document.createElement("div");
  render(template, el);
  return el;
}

/** The visible text, whitespace collapsed. */
export function text(el: Element | null | undefined): string {
  return (el?.textContent ?? "").replace(/\s+/g, " ").trim();
}

export class FakeSounds implements SoundPlayer {
  current: SoundKind | null = null;
  log: (SoundKind | null)[] = [];
  refreshes = 0;
  prepared = 0;
  prepare(): void {
    this.prepared++;
  }
  refresh(): void {
    this.refreshes++;
  }
  set(kind: SoundKind | null): void {
    if (kind === this.current) return;
    this.current = kind;
    this.log.push(kind);
  }
}

/** Lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

/** jsdom has no media playback: play() resolves, srcObject is a plain property. */
export function stubMediaElements(): void {
  const proto = HTMLMediaElement.prototype as unknown as { play: () => Promise<void>; srcObject?: unknown };
  proto.play = () => Promise.resolve();
  if (!("srcObject" in proto)) {
    Object.defineProperty(proto, "srcObject", {
      configurable: true,
      get(this: { _src?: unknown }) {
        return this._src ?? null;
      },
      set(this: { _src?: unknown }, v: unknown) {
        this._src = v;
      },
    });
  }
}

/**
 * The app's stylesheet as text (jsdom applies no layout, so CSS is checked as text):
 * styles.css and the parts it imports, in its order.
 */
export function readStyles(): string {
  const root = resolve(__dirname, "../src");
  const index = readFileSync(resolve(root, "styles.css"), "utf8");
  const parts = Array.from(index.matchAll(/@import "\.\/([^"]+)";/g), (m) => readFileSync(resolve(root, m[1]!), "utf8"));
  return [index, ...parts].join("\n");
}
