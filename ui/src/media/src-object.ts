// Binds a MediaStream to a <video>/<audio> through lit without recreating the element:
// lit keeps the node across renders, and this only touches `srcObject` when the stream
// changes (re-assigning the same stream would restart playback and flash the video).
import { nothing } from "lit-html";
import { Directive, directive, PartType, type ElementPart, type PartInfo } from "lit-html/directive.js";

/** Fired (bubbling) when the autoplay policy refuses to play an element with sound. */
export const PLAY_BLOCKED_EVENT = "beckon-play-blocked";

/** Starts playback; a refusal is reported instead of thrown. */
export function play(el: HTMLMediaElement): void {
  try {
    const p = el.play() as Promise<void> | undefined;
    p?.catch((e: unknown) => {
      if ((e as { name?: string })?.name === "NotAllowedError" && !el.muted)
        el.dispatchEvent(new CustomEvent(PLAY_BLOCKED_EVENT, { bubbles: true }));
    });
  } catch {
    /* no media support (tests' DOM) */
  }
}

class SrcObject extends Directive {
  constructor(info: PartInfo) {
    super(info);
    if (info.type !== PartType.ELEMENT) throw new Error("srcObject() belongs on a <video> or <audio> element");
  }

  render(_stream: MediaStream | null): typeof nothing {
    return nothing;
  }

  override update(part: ElementPart, [stream]: [MediaStream | null]): typeof nothing {
    const el = part.element as HTMLMediaElement;
    if (el.srcObject !== stream) {
      el.srcObject = stream;
      if (stream) play(el);
    }
    return nothing;
  }
}

export const srcObject = directive(SrcObject);

type SinkElement = HTMLMediaElement & { sinkId?: string; setSinkId?: (id: string) => Promise<void> };

class SinkId extends Directive {
  constructor(info: PartInfo) {
    super(info);
    if (info.type !== PartType.ELEMENT) throw new Error("sinkId() belongs on an <audio> element");
  }

  render(_id: string): typeof nothing {
    return nothing;
  }

  /** Only where the engine can (setSinkId); a refusal leaves the sound on the default output. */
  override update(part: ElementPart, [id]: [string]): typeof nothing {
    const el = part.element as SinkElement;
    if (typeof el.setSinkId === "function" && el.sinkId !== id) el.setSinkId(id).catch(() => undefined);
    return nothing;
  }
}

/** Sends an element's sound to the output device `id` ("": the system default). */
export const sinkId = directive(SinkId);
