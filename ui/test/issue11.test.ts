// Issue 11: a new user's complaints, one describe per defect.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { SETTINGS, history, snapshot } from "../src/fixtures";
import type { Snapshot } from "../src/types";
import { FakeSounds, flush, NOW, text } from "./helpers";

let root: HTMLElement;
let t: FakeTransport;
let app: App;
let clock = NOW;

async function start(opts: { snapshot?: Snapshot; kind?: "main" | "popup" } = {}) {
  const state = { settings: SETTINGS, snapshot: opts.snapshot ?? snapshot() };
  t = new FakeTransport({ app_state: () => state, history: () => history(NOW) });
  app = new App({ api: createApi(t), root, kind: opts.kind ?? "main", sounds: new FakeSounds(), now: () => clock, ownBannerMs: 50 });
  await app.start();
  await flush();
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => root.querySelector<T>(sel);

function type(sel: string, value: string): void {
  const input = $<HTMLInputElement>(sel);
  if (!input) throw new Error(`no ${sel}`);
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

async function dial(value: string): Promise<void> {
  type("#dial-ids", value);
  $('[data-form="dial"]')?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  await flush();
}

beforeEach(() => {
  clock = NOW;
  document.body.innerHTML = '<div id="app"></div>';
  root = document.getElementById("app") as HTMLElement;
});

afterEach(() => app?.dispose());

describe("defect 7: the dial box checks IDs before sending", () => {
  const expectRefused = (typed: string, says: RegExp) => {
    expect(t.commands()).not.toContain("call");
    expect(text($("#dial-error"))).toMatch(says);
    expect($<HTMLInputElement>("#dial-ids")?.value).toBe(typed);
    expect($("#dial-ids")?.getAttribute("aria-describedby")).toContain("dial-error");
    expect($("#dial-ids")?.getAttribute("aria-invalid")).toBe("true");
    expect($(".toast")).toBeNull();
  };

  it("too many IDs: says the limit, keeps the text", async () => {
    await start();
    const typed = Array.from({ length: 20 }, (_, i) => `user${i}`).join(", ");
    await dial(typed);
    expectRefused(typed, /at most 9 people.*20/);
  });

  it("yourself", async () => {
    await start();
    await dial("bob, alice");
    expectRefused("bob, alice", /alice.*your own ID/);
  });

  it("an invalid character or a too-long ID names the ID and why", async () => {
    await start();
    await dial("bob, b!ob");
    expectRefused("bob, b!ob", /“b!ob”.*letters, digits/);
    const long = "x".repeat(65);
    await dial(`bob ${long}`);
    expectRefused(`bob ${long}`, /longer than 64/);
  });

  it("the same ID twice", async () => {
    await start();
    await dial("bob carol bob");
    expectRefused("bob carol bob", /“bob” is listed twice/);
  });

  it("nine valid IDs go through", async () => {
    await start();
    const ids = Array.from({ length: 9 }, (_, i) => `u-${i}.x@y+z_`);
    await dial(ids.join(" "));
    expect(t.calls.at(-1)).toEqual({ command: "call", args: { users: ids, callType: "voice" } });
    expect($("#dial-error")).toBeNull();
  });
});
