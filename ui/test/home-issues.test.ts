// The team's issue list for the home page: calling while offline, and the recent calls.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApi, EVENT_UPDATE } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { CONNECTED, DISCONNECTED, RECONNECTING, SETTINGS, fixtures, history, snapshot } from "../src/fixtures";
import type { Connection, Notice, Snapshot, Update } from "../src/types";
import { FakeSounds, flush, NOW, text } from "./helpers";

let root: HTMLElement;
let t: FakeTransport;
let app: App;

async function start(opts: { snapshot?: Snapshot; history?: () => unknown } = {}) {
  const state = { settings: SETTINGS, snapshot: opts.snapshot ?? snapshot() };
  t = new FakeTransport({ app_state: () => state, history: opts.history ?? (() => history(NOW)) });
  app = new App({ api: createApi(t), root, kind: "main", sounds: new FakeSounds(), now: () => NOW });
  await app.start();
  await flush();
}

function update(snap: Snapshot, notice: Notice = { kind: "changed" }): void {
  t.emit(EVENT_UPDATE, { notice, snapshot: snap } satisfies Update);
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => root.querySelector<T>(sel);
const $$ = (sel: string) => Array.from(root.querySelectorAll<HTMLButtonElement>(sel));

beforeEach(() => {
  document.body.innerHTML = '<div id="app"></div>';
  root = document.getElementById("app") as HTMLElement;
});

afterEach(() => {
  app?.dispose();
  vi.useRealTimers();
});

describe("calling while not connected: the page says calls can't be placed, and none is sent", () => {
  const OFFLINE: [string, Connection][] = [
    ["connecting", { state: "connecting" }],
    ["reconnecting", RECONNECTING],
    ["disconnected", DISCONNECTED],
  ];

  it.each(OFFLINE)("%s: every call button is disabled and the line says why", async (_name, connection) => {
    await start({ snapshot: snapshot({ connection }) });
    update(snapshot({ connection }), { kind: "finished", outcome: { kind: "declined" }, call: fixtures.waitingRinging(NOW).call! });
    const buttons = $$('[data-action="call"], [data-action="call-back"]');
    // The two dial buttons, one per history row, and the banner's Call again.
    expect(buttons.length).toBe(2 + 6 + 1);
    expect(buttons.every((b) => b.disabled)).toBe(true);
    const note = $("#dial-offline");
    expect(text(note)).toMatch(/You're offline( \(.+\))? — you can call once Beckon reconnects\./);
    expect($("#dial-ids")?.getAttribute("aria-describedby")).toContain("dial-offline");
    expect(text(root)).not.toMatch(/back online|go through once/);
  });

  it("Enter in the ID box sends nothing and keeps the IDs; once connected the call goes", async () => {
    await start({ snapshot: snapshot({ connection: RECONNECTING }) });
    const input = $<HTMLInputElement>("#dial-ids")!;
    input.value = "bob";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    $('[data-form="dial"]')?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await flush();
    expect(t.commands()).not.toContain("call");
    expect($<HTMLInputElement>("#dial-ids")?.value).toBe("bob");
    update(snapshot({ connection: CONNECTED }));
    expect($("#dial-offline")).toBeNull();
    expect($$('[data-action="call"]').some((b) => b.disabled)).toBe(false);
    $('[data-action="call"][data-type="video"]')?.click();
    await flush();
    expect(t.calls.at(-1)).toEqual({ command: "call", args: { users: ["bob"], callType: "video" } });
  });
});

describe("recent calls that failed to load are loaded again", () => {
  const refuse = () => Promise.reject({ kind: "notConnected", message: "not connected (connecting)" });

  it("when the connection comes up, without a click", async () => {
    await start({ snapshot: snapshot({ connection: { state: "connecting" } }), history: refuse });
    expect(text($(".recents"))).toContain("Couldn't load recent calls: not connected (connecting)");
    expect(text($(".recents"))).toContain("They load again once Beckon reconnects.");
    t.handlers.history = () => history(NOW);
    update(snapshot({ connection: RECONNECTING }));
    await flush();
    expect(t.commands().filter((c) => c === "history").length).toBe(1);
    update(snapshot({ connection: CONNECTED }));
    await flush();
    expect(root.querySelectorAll(".recent")).toHaveLength(6);
    expect(text($(".recents"))).not.toContain("Couldn't load");
  });

  it("after saving settings, once the new sign-in connects", async () => {
    await start();
    t.handlers.history = refuse;
    t.handlers.app_state = () => ({ settings: SETTINGS, snapshot: snapshot({ connection: { state: "connecting" } }) });
    t.handlers.save_settings = () => undefined;
    $('[data-action="edit-settings"]')?.click();
    $('[data-form="settings"]')?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await flush();
    expect(text($(".recents"))).toContain("Couldn't load recent calls");
    t.handlers.history = () => history(NOW);
    update(snapshot({ connection: CONNECTED }));
    await flush();
    expect(root.querySelectorAll(".recent")).toHaveLength(6);
  });

  it("the error has a visible Retry button that loads them", async () => {
    await start({ history: refuse });
    const retry = $<HTMLButtonElement>('.recents [data-action="retry-history"]');
    expect(text(retry)).toBe("Retry");
    expect(retry?.classList.contains("sr-only")).toBe(false);
    t.handlers.history = () => history(NOW);
    retry?.click();
    await flush();
    expect(root.querySelectorAll(".recent")).toHaveLength(6);
  });
});
