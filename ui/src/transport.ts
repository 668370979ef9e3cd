// The one place where the pages' traffic meets the host. Everything above this module
// (api.ts, the app, the pages) talks to a `Transport`; only this file knows how it gets
// there: Tauri's IPC in the desktop windows, a loopback WebSocket in browser mode.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen as tauriListen } from "@tauri-apps/api/event";

export type Unlisten = () => void;

export interface Transport {
  /** Calls a host command. Rejects with the host's error value (`{ kind, message }`). */
  invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
  /** Subscribes to a host event; resolves to a function that unsubscribes. */
  listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten>;
}

/** What the host's `HostCommand` reads: `{ command, args }` (args absent when there are none). */
function request(command: string, args?: Record<string, unknown>): Record<string, unknown> {
  return args === undefined ? { command } : { command, args };
}

/** Tauri 2: every command is the one `host` command; events come from `event.listen`. */
export function tauriTransport(): Transport {
  return {
    invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> {
      return tauriInvoke<T>("host", { request: request(command, args) });
    },
    async listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten> {
      return tauriListen<T>(event, (e) => handler(e.payload));
    },
  };
}

/** Whether this page runs in a Tauri window (else it was opened in a browser). */
export function inTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

type PageFrame =
  | { type: "reply"; id: number; value?: unknown; error?: unknown }
  | { type: "event"; event: string; payload: unknown };

/** Why browser mode's channel is gone; the page shows it instead of failing quietly. */
export const CHANNEL_CLOSED = { kind: "offline", message: "Beckon is not running any more. Start it again, then reload this page." };

/**
 * Browser mode: the app serves this page at `http://127.0.0.1:<port>/<secret>/` and its
 * channel next to it at `…/<secret>/ws`; replies carry the request's id.
 */
export function browserTransport(url: string = channelUrl(location.href)): Transport {
  const socket = new WebSocket(url);
  const open = new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(CHANNEL_CLOSED), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  socket.addEventListener("message", (m) => {
    let frame: PageFrame;
    try {
      frame = JSON.parse(String(m.data)) as PageFrame;
    } catch {
      return;
    }
    if (frame.type === "reply") {
      const waiting = pending.get(frame.id);
      pending.delete(frame.id);
      if (frame.error !== undefined) waiting?.reject(frame.error);
      else waiting?.resolve(frame.value ?? null);
    } else if (frame.type === "event") {
      handlers.get(frame.event)?.forEach((h) => h(frame.payload));
    }
  });
  socket.addEventListener("close", () => {
    for (const w of pending.values()) w.reject(CHANNEL_CLOSED);
    pending.clear();
  });
  return {
    async invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> {
      await open;
      if (socket.readyState !== WebSocket.OPEN) throw CHANNEL_CLOSED;
      const id = nextId++;
      const answer = new Promise<unknown>((resolve, reject) => pending.set(id, { resolve, reject }));
      socket.send(JSON.stringify({ id, ...request(command, args) }));
      return (await answer) as T;
    },
    async listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten> {
      const set = handlers.get(event) ?? new Set();
      handlers.set(event, set);
      const h = handler as (payload: unknown) => void;
      set.add(h);
      return () => set.delete(h);
    },
  };
}

/** `http://host/<secret>/…` -> `ws://host/<secret>/ws`. */
export function channelUrl(page: string): string {
  const u = new URL(page);
  const secret = u.pathname.split("/")[1] ?? "";
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = `/${secret}/ws`;
  u.hash = "";
  u.search = "";
  return u.toString();
}
