export type { ActionError } from "./generated/ActionError";
export type { CallControl } from "./generated/CallControl";
export type { CallResult } from "./generated/CallResult";
export type { CallType } from "./generated/CallType";
export type { CallUserState } from "./generated/CallUserState";
export type { CallView } from "./generated/CallView";
export type { Connection } from "./generated/Connection";
export type { Direction } from "./generated/Direction";
export type { HistoryEntry } from "./generated/HistoryEntry";
export type { Member } from "./generated/Member";
export type { Notice } from "./generated/Notice";
export type { Outcome } from "./generated/Outcome";
export type { Phase } from "./generated/Phase";
export type { Settings } from "./generated/Settings";
export type { Snapshot } from "./generated/Snapshot";
export type { StateReason } from "./generated/StateReason";
export type { Update } from "./generated/Update";

export type { AppView } from "./generated/AppView";
export type { CommandError } from "./generated/CommandError";
export type { CommandErrorKind } from "./generated/CommandErrorKind";
export type { SettingsField } from "./generated/SettingsField";

import type { AppView } from "./generated/AppView";
import type { CommandError } from "./generated/CommandError";

/** `app_state()`: snapshot is null while not signed in. */
export type AppState = AppView;

/**
 * What a rejected command carries: the host's `{ kind, message }`, or kind `error` for a
 * rejection the host's commands did not make (Tauri's IPC layer rejects with a string).
 */
export type ApiError = CommandError | { kind: "error"; message: string };
