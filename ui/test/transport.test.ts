import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { createApi, EVENT_SETTINGS, EVENT_UPDATE, toApiError } from "../src/api";
import { FakeTransport } from "../src/fake-transport";

const SRC = join(__dirname, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("transport boundary", () => {
  it("only src/transport.ts imports @tauri-apps/api", () => {
    const importers = files(SRC)
      .filter((f) => /\.(ts|js|mjs|cjs)$/.test(f))
      .filter((f) => readFileSync(f, "utf8").includes("@tauri-apps/api"))
      .map((f) => relative(SRC, f).split("\\").join("/"));
    expect(importers).toEqual(["transport.ts"]);
  });

  it("pages and the app only see the Transport interface (type imports)", () => {
    for (const f of files(SRC)) {
      const rel = relative(SRC, f).split("\\").join("/");
      if (rel === "main.ts" || rel === "transport.ts") continue;
      const src = readFileSync(f, "utf8");
      for (const line of src.split("\n").filter((l) => /from "\.{1,2}\/(\.\.\/)?transport"/.test(l)))
        expect(line.trim().startsWith("import type"), `${rel}: ${line}`).toBe(true);
    }
  });
});

describe("api", () => {
  it("sends the contract's command names and camelCase argument keys", async () => {
    const t = new FakeTransport();
    const api = createApi(t);
    await api.appState();
    await api.saveSettings({ serverUrl: "ws://h/ws", userId: "a", userName: "A", token: null });
    await api.call(["b", "c"], "video");
    await api.cancel();
    await api.accept("c1");
    await api.decline("c2");
    await api.hangUp();
    await api.inviteMore(["d"]);
    await api.leave();
    await api.endCall();
    await api.history(20);
    expect(t.calls).toEqual([
      { command: "app_state", args: undefined },
      { command: "save_settings", args: { settings: { serverUrl: "ws://h/ws", userId: "a", userName: "A", token: null } } },
      { command: "call", args: { users: ["b", "c"], callType: "video" } },
      { command: "cancel", args: undefined },
      { command: "accept", args: { callId: "c1" } },
      { command: "decline", args: { callId: "c2" } },
      { command: "hang_up", args: undefined },
      { command: "invite_more", args: { users: ["d"] } },
      { command: "leave", args: undefined },
      { command: "end_call", args: undefined },
      { command: "history", args: { count: 20 } },
    ]);
  });

  it("listens to beckon://update and beckon://settings", async () => {
    const t = new FakeTransport();
    const api = createApi(t);
    const got: unknown[] = [];
    const un = await api.onUpdate((u) => got.push(u));
    await api.onSettings((s) => got.push(s));
    t.emit(EVENT_UPDATE, { notice: { kind: "changed" } });
    t.emit(EVENT_SETTINGS, null);
    un();
    t.emit(EVENT_UPDATE, { notice: { kind: "changed" } });
    expect(EVENT_UPDATE).toBe("beckon://update");
    expect(EVENT_SETTINGS).toBe("beckon://settings");
    expect(got).toEqual([{ notice: { kind: "changed" } }, null]);
  });

  it("rejections become { kind, message }", async () => {
    const t = new FakeTransport({ cancel: () => Promise.reject({ kind: "notNow", phase: "free" }) });
    await expect(createApi(t).cancel()).rejects.toEqual({ kind: "notNow", message: "That can't be done right now.", field: null });
    // A settings problem keeps the field it names; a field the host never names is dropped.
    expect(toApiError({ kind: "invalid", message: "m", field: "token" })).toEqual({ kind: "invalid", message: "m", field: "token" });
    expect(toApiError({ kind: "invalid", message: "m", field: "color" })).toEqual({ kind: "invalid", message: "m", field: null });
    expect(toApiError("boom")).toEqual({ kind: "error", message: "boom" });
    expect(toApiError(undefined).message).toBe("Something went wrong.");
  });

  it("keeps only the kinds the host sends, each with its own sentence", () => {
    expect(toApiError({ kind: "offline", message: "" })).toEqual({
      kind: "offline",
      message: "Can't reach the server right now.",
      field: null,
    });
    expect(toApiError({ kind: "notSignedIn" }).message).toBe("Open Settings and sign in first.");
    expect(toApiError({ kind: "io" }).message).toBe("Couldn't read or save the settings.");
    // Kinds of the manager's own ActionError never reach the UI as a command's kind.
    expect(toApiError({ kind: "stopped", message: "signed out" })).toEqual({ kind: "error", message: "signed out" });
    expect(toApiError({ kind: "notRinging" })).toEqual({ kind: "error", message: "Something went wrong." });
  });
});
