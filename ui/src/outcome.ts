import { callPartyLabel, formatDuration, notOnlineWhy } from "./format";
import type { HostOutcome } from "./media/host";
import type { CallView } from "./types";

export type BannerTone = "info" | "warn" | "bad";

/** What home says after a call finished. Built once, from the Finished notice. */
export type Banner = {
  /** The outcome's kind, kept for tests and styling. */
  kind: HostOutcome["kind"];
  title: string;
  detail: string;
  tone: BannerTone;
  /** The user's own doing: the banner fades by itself. */
  own: boolean;
  /** Faded out but still holding its space, so the page doesn't jump under the pointer. */
  faded?: boolean;
  /** Offered as "Call back" / "Call again". */
  redial: { users: string[]; callType: CallView["callType"] } | null;
};

function talked(call: CallView, now: number): string {
  return call.startedAt !== null ? ` after ${formatDuration(now - call.startedAt)}` : "";
}

/** Everyone else in the call: the callees of an outgoing call, the caller of an incoming one. */
function redialTarget(call: CallView): Banner["redial"] {
  const users =
    call.direction === "incoming" && !call.group ? [call.callerId] : call.peers.map((p) => p.userId);
  return users.length > 0 ? { users, callType: call.callType } : null;
}

/** One distinct sentence for each outcome. */
export function outcomeBanner(outcome: HostOutcome, call: CallView, now: number): Banner {
  const who = callPartyLabel(call);
  const caller = call.callerName || call.callerId;
  const kind = call.callType === "video" ? "video call" : "call";
  const redial = redialTarget(call);
  const b = (title: string, detail: string, tone: BannerTone, own = false, offerRedial = true): Banner => ({
    kind: outcome.kind,
    title,
    detail,
    tone,
    own,
    redial: offerRedial ? redial : null,
  });
  switch (outcome.kind) {
    case "declined":
      return b(`${who} declined`, `Your ${kind} was declined.`, "warn");
    case "busy":
      return b(`${who} ${call.peers.length > 1 ? "are" : "is"} busy`, "They're on another call. Try again later.", "warn");
    case "noAnswer":
      return b(`No answer from ${who}`, `Their device rang, but nobody picked up.`, "warn");
    case "unreachable":
      return b(`${who} couldn't be reached`, `They weren't online while the call rang: ${notOnlineWhy(call.peers.length)}.`, "warn");
    case "cancelledByCaller":
      return b(`${caller} cancelled the call`, `They hung up before you answered: a missed ${kind}.`, "bad");
    case "missed":
      return b(`Missed call from ${caller}`, `You didn't answer the ${kind} in time.`, "bad");
    case "answeredElsewhere":
      return b(`Answered on another device`, `The ${kind} from ${caller} was picked up on another of your devices.`, "info", false, false);
    case "declinedElsewhere":
      return b(`Declined on another device`, `The ${kind} from ${caller} was declined on another of your devices.`, "info", false, false);
    case "endedByPeer": {
      if (!call.group) return b(`${who} ended the call`, `The ${kind} ended${talked(call, now)}.`, "info");
      const by = outcome.by === null ? null : (call.peers.find((p) => p.userId === outcome.by)?.name ?? outcome.by);
      return by === null
        ? b(`The group call ended`, `Everyone else left the group ${kind}${talked(call, now)}.`, "info")
        : b(`${by} ended the call for everyone`, `The group ${kind} with ${who} ended${talked(call, now)}.`, "info");
    }
    case "connectionLost":
      return b(`Call dropped: connection lost`, `Your ${kind} with ${who} ended because the connection to the server was lost${talked(call, now)}.`, "bad");
    case "cancelled":
      return b(`Call cancelled`, `You cancelled the ${kind} to ${who}.`, "info", true);
    case "rejected":
      return b(`Call declined`, `You declined the ${kind} from ${caller}.`, "info", true);
    case "hungUp":
      return b(`Call ended`, `You hung up on the ${kind} with ${who}${talked(call, now)}.`, "info", true);
    case "left":
      return b(`You left the group call`, `The others in the call with ${who} can carry on without you.`, "info", true);
    case "mediaFailed":
      return outcome.problem === "couldNotConnect"
        ? b(`Couldn't connect the call's audio`, `Your ${kind} with ${who} was set up, but no audio${call.callType === "video" ? " or video" : ""} got through, so it ended. The network may be blocking calls.`, "bad")
        : b(`Connection lost`, `The audio connection with ${who} dropped and didn't come back, so the ${kind} ended${talked(call, now)}.`, "bad");
    case "failed":
      return b(`Call failed`, outcome.message || "Something went wrong.", "bad");
  }
}
