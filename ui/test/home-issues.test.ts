// The team's issue list for the home page: calling while offline, and the recent calls.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApi, EVENT_UPDATE } from "../src/api";
import { App, type AppOptions } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { CONNECTED, DISCONNECTED, RECONNECTING, SETTINGS, fixtures, history, member, missedHistory, outgoingCall, snapshot } from "../src/fixtures";
import { formatWhen } from "../src/format";
import { recentRows } from "../src/recents";
import type { Connection, HistoryEntry, Notice, Snapshot, Update } from "../src/types";
import { FakeSounds, flush, NOW, readStyles, text } from "./helpers";

let root: HTMLElement;
let t: FakeTransport;
let app: App;
let clock = NOW;

async function start(opts: { snapshot?: Snapshot; history?: () => unknown; app?: Partial<AppOptions> } = {}) {
  const state = { settings: SETTINGS, snapshot: opts.snapshot ?? snapshot() };
  t = new FakeTransport({ app_state: () => state, history: opts.history ?? (() => history(NOW)) });
  app = new App({ api: createApi(t), root, kind: "main", sounds: new FakeSounds(), now: () => clock, ...opts.app });
  await app.start();
  await flush();
}

function update(snap: Snapshot, notice: Notice = { kind: "changed" }): void {
  t.emit(EVENT_UPDATE, { notice, snapshot: snap } satisfies Update);
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => root.querySelector<T>(sel);
const $$ = (sel: string) => Array.from(root.querySelectorAll<HTMLButtonElement>(sel));

beforeEach(() => {
  clock = NOW;
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

  it("a disabled Call back looks disabled and does not light up on hover", () => {
    const css = readStyles();
    expect(/\n\.icon-btn:disabled \{[^}]*opacity: 0\.\d+;/.test(css)).toBe(true);
    expect(css).toMatch(/\n\.icon-btn:hover:not\(:disabled\) \{/);
    expect(css).toMatch(/\n\.call-back:hover:not\(:disabled\) \{/);
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

/** Each row's name, without its Missed badge. */
const names = () => $$(".recent-name").map((el) => text(el).replace(/ Missed$/, ""));

describe("recent calls show each person the same way", () => {
  it("by the name any entry knows, where the host sent only the ID", async () => {
    await start({ history: () => missedHistory(NOW) });
    // m4 and m8: calls nobody answered, which the host labels "bob" and "carol".
    expect(names()).toEqual(["Bob Chen (3)", "Bob Chen", "Bob Chen", "Erin Novak +2", "Carol Diaz, dan", "Carol Diaz", "Erin Novak"]);
    const m8 = $('[data-call-id="m8"]');
    expect(m8?.querySelector(".recent-name")?.getAttribute("title")).toBe("Carol Diaz");
    expect(m8?.querySelector('[data-action="call-back"]')?.getAttribute("aria-label")).toBe("Call back Carol Diaz (voice call)");
    expect(text(m8?.querySelector(".avatar"))).toBe("CD");
  });

  it("by the snapshot's names too; by the ID when no name is known", () => {
    const bare = missedHistory(NOW).filter((e) => e.callId === "m4" || e.callId === "m8");
    const call = outgoingCall(NOW, [member("carol", "Carol D.", "received")]);
    expect(recentRows(bare, snapshot({ phase: "outgoing", call })).map((r) => r.label)).toEqual(["bob", "Carol D."]);
  });
});

describe("repeated missed calls from one person are one row", () => {
  it("same caller, same type, one after the other: one row with the count and the newest time", async () => {
    await start({ history: () => missedHistory(NOW) });
    const rows = $$(".recent");
    expect(rows).toHaveLength(7);
    const bob = rows[0]!;
    expect(text(bob.querySelector(".recent-name"))).toBe("Bob Chen (3) Missed");
    expect(bob.dataset.callId).toBe("m1");
    expect(text(bob.querySelector(".recent-result"))).toBe("Not answered");
    const at = (min: number) => formatWhen(NOW - min * 60_000, NOW);
    expect(text(bob.querySelector("time"))).toBe(at(3));
    expect(bob.querySelector("time")?.getAttribute("title")).toBe(`${at(3)}, ${at(9)}, ${at(20)}`);
    // Not folded: an outgoing call in between, a video call, a group call by another caller.
    expect(text(rows[2]?.querySelector(".recent-name"))).toBe("Bob Chen Missed");
  });

  it("a row says the reason its calls share, else 'Not answered'", () => {
    const hungUp = missedHistory(NOW).slice(0, 3).map((e) => ({ ...e, result: "cancelled" as const }));
    expect(recentRows(hungUp, null).map((r) => [r.entries.length, r.result.text])).toEqual([[3, "Caller hung up"]]);
  });

  it("a new missed call joins the row, which keeps its nodes", async () => {
    await start({ history: () => missedHistory(NOW) });
    const row = $$(".recent")[0]!;
    const back = row.querySelector<HTMLButtonElement>('[data-action="call-back"]')!;
    back.focus();
    const newer: HistoryEntry = { ...missedHistory(NOW)[0]!, callId: "m0", createdAt: NOW - 60_000 };
    t.handlers.history = () => [newer, ...missedHistory(NOW)];
    update(snapshot(), { kind: "rejectedBusy", callId: "m0", callerId: "bob", callerName: "Bob Chen", callType: "voice" });
    await flush();
    expect($$(".recent")[0]).toBe(row);
    expect(text(row.querySelector(".recent-name"))).toBe("Bob Chen (4) Missed");
    expect(row.dataset.callId).toBe("m0");
    expect(document.activeElement).toBe(back);
  });
});

describe("the missed-call count on Recent calls", () => {
  const KEY = "beckon.missedSeenAt.alice";
  let focused = true;
  let store: Map<string, string>;
  const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
  const badge = () => $(".recents .missed-count");
  const focus = (on: boolean) => {
    focused = on;
    window.dispatchEvent(new Event(on ? "focus" : "blur"));
  };
  const open = (mark: number | null) => {
    store = new Map(mark === null ? [] : [[KEY, String(mark)]]);
    return start({ history: () => missedHistory(NOW), app: { hasFocus: () => focused, storage } });
  };

  beforeEach(() => {
    focused = true;
  });

  it("counts the calls missed since home was last looked at, in a live region", async () => {
    await open(NOW - 30 * 60_000);
    // m1, m2, m3 (one row) are newer than the mark; m5, m6 are older.
    expect(text(badge())).toBe("3 missed calls since you last looked");
    expect(badge()?.getAttribute("role")).toBe("status");
    expect(store.get(KEY)).toBe(String(NOW));
  });

  it("stays while the user looks; once they look away, only calls missed after that count", async () => {
    await open(NOW - 30 * 60_000);
    clock = NOW + 60_000;
    vi.useFakeTimers({ toFake: ["setInterval"] });
    vi.advanceTimersByTime(5000);
    expect(text(badge())).toMatch(/^3 missed/);
    focus(false);
    expect(text(badge())).toBe("");
    expect(store.get(KEY)).toBe(String(NOW + 60_000));
    const newer: HistoryEntry = { ...missedHistory(NOW)[0]!, callId: "m0", createdAt: NOW + 120_000 };
    t.handlers.history = () => [newer, ...missedHistory(NOW)];
    update(snapshot(), { kind: "rejectedBusy", callId: "m0", callerId: "bob", callerName: "Bob Chen", callType: "voice" });
    await flush();
    expect(text(badge())).toBe("1 missed call since you last looked");
    // The user comes back: the badge is there to be seen.
    focus(true);
    expect(text(badge())).toMatch(/^1 missed/);
  });

  it("a call page in between ends the look", async () => {
    await open(NOW - 30 * 60_000);
    clock = NOW + 60_000;
    update(fixtures.incoming(NOW + 60_000));
    expect(store.get(KEY)).toBe(String(NOW + 60_000));
    update(snapshot());
    expect(text(badge())).toBe("");
  });

  it("nothing counts as new on the first run, or while nothing was missed", async () => {
    await open(null);
    expect(text(badge())).toBe("");
    expect(badge()).not.toBeNull();
    app.dispose();
    await open(NOW - 60_000);
    expect(text(badge())).toBe("");
  });
});
