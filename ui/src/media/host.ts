// The host contract of the media module. Hand-written until the Rust side exports these
// (ts-rs, like ../generated); the shapes must then stay the same, so this file becomes
// re-exports and nothing else changes.
import type { CallView, Notice, Outcome, Snapshot } from "../types";

export type IceServer = { urls: string[]; username?: string; credential?: string };
export type IceConfig = { iceServers: IceServer[]; iceTransportPolicy: "all" | "relay"; expiresAt: number | null };
/** An incoming relay from the other side's media module, for the current call only. */
export type Signal = { callId: string; fromUserId: string; payload: unknown };
/** Why the UI ends a call itself. */
export type MediaProblem = "couldNotConnect" | "connectionLost";

/** The generated Outcome plus the one the media module causes. */
export type HostOutcome = Outcome | { kind: "mediaFailed"; problem: MediaProblem };

/** The generated Notice, with `finished` widened to HostOutcome, plus relayed signals. */
export type HostNotice =
  | Exclude<Notice, { kind: "finished" }>
  | { kind: "finished"; outcome: HostOutcome; call: CallView }
  | ({ kind: "signal" } & Signal);

export type HostUpdate = { notice: HostNotice; snapshot: Snapshot };
