// The tray's Mute item works on the page that carries the call's media (the microphone
// is here, not in the host), and says which way it goes from what this page reports.
import type { Api } from "./api";
import type { MediaModule } from "./media/view";
import type { CallControl } from "./types";
import type { Unlisten } from "./transport";

export class TrayLink {
  /** What the host last heard (it starts each call unmuted, as the page does); null: unknown. */
  private reported: boolean | null = false;

  constructor(
    private readonly api: Pick<Api, "onControl" | "setMuted">,
    private readonly media: MediaModule,
  ) {}

  listen(): Promise<Unlisten> {
    return this.api.onControl((c: CallControl) => {
      if (c === "toggleMute") this.media.toggleMute();
    });
  }

  /** After each render: tells the host when mute changed (a failure only leaves the tray's word stale). */
  sync(): void {
    const muted = !this.media.view().micOn;
    if (muted === this.reported) return;
    this.reported = muted;
    this.api.setMuted(muted).catch(() => {
      this.reported = null;
    });
  }
}
