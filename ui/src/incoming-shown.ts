import type { Snapshot } from "./types";

/** Wall-clock ms; 0: not yet. */
export type IncomingShown = { callId: string; received: number; visible: number; drawn: number };

/**
 * When a window came into view showing an incoming call: the call's ID, and wall-clock
 * times of the update that brought it to this window, of the window being visible with it,
 * and of the first frame drawn with it. The popup benchmark reads it over WebDriver, for
 * the popup and, as its floor, for the main window; the steps tell where a slow one went.
 */
export class IncomingShownProbe {
  last: IncomingShown | null = null;
  private received: { callId: string; at: number } | null = null;

  /** An update arrived with this snapshot. */
  onUpdate(s: Snapshot | null): void {
    const callId = s?.phase === "incoming" ? s.call?.callId : null;
    if (callId && this.received?.callId !== callId) this.received = { callId, at: Date.now() };
  }

  /** The window is visible showing the incoming page for this snapshot's call. */
  onShown(s: Snapshot | null, win: { requestAnimationFrame?: (f: () => void) => unknown } | null): void {
    const callId = s?.call?.callId;
    if (!callId || this.last?.callId === callId) return;
    const received = this.received?.callId === callId ? this.received.at : 0;
    const shown: IncomingShown = { callId, received, visible: Date.now(), drawn: 0 };
    this.last = shown;
    const stamp = (): void => {
      shown.drawn = Date.now();
    };
    if (win?.requestAnimationFrame) win.requestAnimationFrame(stamp);
    else stamp();
  }
}
