// An in-memory Transport for the preview harness and the tests: records every command,
// answers from a handler table, and lets the caller emit host events.
import type { Transport, Unlisten } from "./transport";

export type Invocation = { command: string; args: Record<string, unknown> | undefined };
export type Handler = (args: Record<string, unknown> | undefined) => unknown;

export class FakeTransport implements Transport {
  readonly calls: Invocation[] = [];
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();

  constructor(public handlers: Record<string, Handler> = {}) {}

  async invoke<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    this.calls.push({ command, args });
    const h = this.handlers[command];
    if (!h) return undefined as T;
    return (await h(args)) as T;
  }

  async listen<T>(event: string, handler: (payload: T) => void): Promise<Unlisten> {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const h = handler as (payload: unknown) => void;
    set.add(h);
    return () => set?.delete(h);
  }

  emit(event: string, payload: unknown): void {
    for (const h of Array.from(this.listeners.get(event) ?? [])) h(payload);
  }

  commands(): string[] {
    return this.calls.map((c) => c.command);
  }
}
