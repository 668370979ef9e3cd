// The one place where the pages' traffic meets the host. Everything above this module
// (api.ts, the app, the pages) talks to a `Transport`; only this file knows about Tauri.
// A second implementation (a browser over a loopback WebSocket) can be added here
// without touching the pages.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen as tauriListen } from "@tauri-apps/api/event";

export type Unlisten = () => void;

export interface Transport {
  /** Calls a host command. Rejects with the host's error value (`{ kind, message }`). */
  invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
  /** Subscribes to a host event; resolves to a function that unsubscribes. */
  listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten>;
}

/** Tauri 2: `core.invoke` for commands, `event.listen` for events. */
export function tauriTransport(): Transport {
  return {
    invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> {
      return tauriInvoke<T>(command, args);
    },
    async listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten> {
      return tauriListen<T>(event, (e) => handler(e.payload));
    },
  };
}
