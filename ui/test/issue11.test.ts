// Issue 11: a new user's complaints, one describe per defect.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApi, EVENT_UPDATE } from "../src/api";
import { App } from "../src/app";
import { FakeTransport } from "../src/fake-transport";
import { SETTINGS, fixtures, history, incomingCall, member, snapshot } from "../src/fixtures";
import { outcomeBanner } from "../src/outcome";
import type { Notice, Snapshot, Update } from "../src/types";
import { FakeSounds, flush, NOW, readStyles, text } from "./helpers";

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

function update(snap: Snapshot, notice: Notice = { kind: "changed" }): void {
  t.emit(EVENT_UPDATE, { notice, snapshot: snap } satisfies Update);
}

function key(k: string, target: EventTarget = document.activeElement ?? document): void {
  target.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
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

afterEach(() => {
  app?.dispose();
  vi.useRealTimers();
});

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

/** A group call bob started, with alice (this user) and carol in it. */
function joinedGroup(): Snapshot {
  return snapshot({
    phase: "inCall",
    call: incomingCall(NOW, { group: true, startedAt: NOW - 60_000, ringUntil: null, peers: [member("bob", "Bob Chen", "accepted"), member("carol", "carol", "accepted")] }),
  });
}

describe("defect 6: group calls, leaving vs ending for everyone", () => {
  it("the caller: the big red button leaves; End for everyone is a smaller secondary action", async () => {
    await start({ snapshot: fixtures.callingGroup(NOW) });
    const red = root.querySelectorAll(".controls .round-red");
    expect(red.length).toBe(1);
    expect(red[0]?.getAttribute("data-action")).toBe("leave");
    const end = $('[data-action="end-call"]');
    expect(end?.classList.contains("round")).toBe(false);
    expect(end?.classList.contains("end-all")).toBe(true);
    expect(text(end)).toBe("End for everyone");
  });

  it("someone else's group call: Leave only", async () => {
    await start({ snapshot: joinedGroup() });
    expect($('.round-red[data-action="leave"]')).not.toBeNull();
    expect($('[data-action="end-call"]')).toBeNull();
  });

  it("the banner names who ended a group call, and blames nobody when everyone else left", () => {
    const call = joinedGroup().call!;
    const left = outcomeBanner({ kind: "endedByPeer", by: null }, call, NOW);
    expect(left.title).toBe("The group call ended");
    expect(left.detail).toContain("Everyone else left");
    const caller = call.peers.find((p) => p.userId !== "carol") ?? call.peers[0]!;
    const ended = outcomeBanner({ kind: "endedByPeer", by: caller.userId }, call, NOW);
    expect(ended.title).toBe(`${caller.name} ended the call for everyone`);
    const one = outcomeBanner({ kind: "endedByPeer", by: "bob" }, fixtures.callingVoice(NOW).call!, NOW);
    expect(one.title).toBe("Bob Chen ended the call");
  });
});

describe("defect 9: small in-call bugs", () => {
  it("no toast about your own join", async () => {
    await start({ snapshot: joinedGroup() });
    update(joinedGroup(), { kind: "accepted", by: "alice" });
    expect($(".toast")).toBeNull();
    update(joinedGroup(), { kind: "accepted", by: "carol" });
    expect(text($(".toast"))).toContain("carol joined the call");
  });

  it("toasts sit at the top, clear of the call controls at the bottom", () => {
    const css = readStyles();
    const rule = /\n\.toasts \{([^}]*)\}/.exec(css)?.[1] ?? "";
    expect(rule).toMatch(/\btop:/);
    expect(rule).not.toMatch(/\bbottom:/);
  });

  it("a banner that fades keeps its space, so the page doesn't move under the pointer", async () => {
    await start();
    vi.useFakeTimers();
    update(snapshot(), { kind: "finished", outcome: { kind: "hungUp" }, call: fixtures.callingVoice(NOW).call! });
    expect($(".banner")).not.toBeNull();
    vi.advanceTimersByTime(60);
    const b = $(".banner");
    expect(b?.classList.contains("banner-faded")).toBe(true);
    expect(b?.getAttribute("aria-hidden")).toBe("true");
    // The next call takes the page; its space isn't held for later.
    update(fixtures.incoming(NOW));
    expect(app.model.banner).toBeNull();
  });
});

describe("defect 10: the window title", () => {
  it("incoming, calling and in a call, updated every second", async () => {
    vi.useFakeTimers({ toFake: ["setInterval"] });
    await start({ kind: "popup", snapshot: fixtures.incoming(NOW) });
    expect(document.title).toBe("Incoming call — Bob Chen");
    app.dispose();
    await start({ snapshot: fixtures.waitingRinging(NOW) });
    expect(document.title).toMatch(/^Calling .+…$/);
    update(fixtures.callingVoice(NOW));
    expect(document.title).toBe("In call with Bob Chen — 0:42");
    clock += 1000;
    vi.advanceTimersByTime(1000);
    expect(document.title).toBe("In call with Bob Chen — 0:43");
  });
});

describe("defect 12: the incoming popup's keys and focus", () => {
  it("Accept has the focus; Enter accepts", async () => {
    await start({ kind: "popup", snapshot: fixtures.incoming(NOW) });
    expect(document.activeElement?.getAttribute("data-action")).toBe("accept");
    key("Enter", $("main")!);
    await flush();
    expect(t.calls.filter((c) => c.command === "accept").length).toBe(1);
  });

  it("Esc declines; Enter on the focused Decline button is left to the button", async () => {
    await start({ kind: "popup", snapshot: fixtures.incoming(NOW) });
    $('[data-action="decline"]')?.focus();
    key("Enter");
    key("Escape");
    await flush();
    expect(t.commands()).not.toContain("accept");
    expect(t.calls.at(-1)?.command).toBe("decline");
  });
});

describe("defect 11: layout at small sizes, long names", () => {
  const LONG = "Maximiliana Konstantinopoulou-Wolfeschlegelsteinhausen";
  function cssRule(sel: string): string {
    const esc = sel.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`\\n${esc} \\{([^}]*)\\}`).exec(readStyles())?.[1] ?? "";
  }

  it("single-line names end in an ellipsis and carry the full name in title", async () => {
    const s = joinedGroup();
    s.call!.callerName = LONG;
    s.call!.peers[0]!.name = LONG;
    await start({ snapshot: s });
    expect($(".member-name")?.getAttribute("title")).toBe(LONG);
    expect($(".stage-title")?.getAttribute("title")).toBe(text($(".stage-title")));
    for (const sel of [".stage-title", ".incoming-name", ".member-name", ".recent-name", ".me-name"]) {
      const rule = cssRule(sel);
      expect(rule, sel).toMatch(/text-overflow: ellipsis/);
      expect(rule, sel).toMatch(/white-space: nowrap/);
      expect(rule, sel).not.toMatch(/overflow-wrap: anywhere/);
    }
  });

  it("the popup's and home's names carry their full text in title", async () => {
    const inc = fixtures.incoming(NOW);
    inc.call!.callerName = LONG;
    await start({ kind: "popup", snapshot: inc });
    expect($(".incoming-name")?.getAttribute("title")).toBe(LONG);
    app.dispose();
    await start({ snapshot: snapshot({ userName: LONG }) });
    expect($(".me-name")?.getAttribute("title")).toBe(LONG);
    expect($(".recent-name")?.getAttribute("title")).toBeTruthy();
  });

  it("call pages scroll their content above the controls, never under them", async () => {
    for (const snap of [fixtures.callingGroup(NOW), fixtures.waitingGroup(NOW)]) {
      await start({ snapshot: snap });
      const scroll = $(".stage-scroll");
      expect(scroll?.querySelector(".members")).not.toBeNull();
      expect(scroll?.contains($(".dock"))).toBe(false);
      expect($(".dock")?.parentElement?.tagName).toBe("MAIN");
      app.dispose();
    }
    expect(cssRule(".stage-scroll")).toMatch(/overflow-y: auto/);
    expect(readStyles()).not.toMatch(/\.stage \.dock \{[^}]*position: sticky/);
  });
});
