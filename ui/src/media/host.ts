// The host contract of the media module, in the generated types' terms (../generated).
import type { Notice, Outcome, Update } from "../types";

export type { IceConfig } from "../generated/IceConfig";
export type { IceServer } from "../generated/IceServer";
export type { MediaProblem } from "../generated/MediaProblem";

/** An incoming relay from the other side's media module, for the current call only. */
export type Signal = Omit<Extract<Notice, { kind: "signal" }>, "kind">;
export type HostOutcome = Outcome;
export type HostNotice = Notice;
export type HostUpdate = Update;
