// The recent-calls list as home shows it, from the host's history entries: each person
// under one name, repeated missed calls from one caller folded into one row, and how
// many calls were missed since the user last looked.
import { historyResult, type Tone } from "./format";
import type { HistoryEntry, Snapshot } from "./types";

/** One row of the list: one call, or consecutive missed calls from the same caller. */
export type RecentRow = {
  /**
   * Stays the same across refreshes, so lit keeps the row's nodes (a focused Call back
   * button stays on its row): the oldest call of the row, as a new missed call joins on top.
   */
  key: string;
  /** The newest call of the row: its time, IDs and type are the row's. */
  entry: HistoryEntry;
  /** Newest first. */
  entries: HistoryEntry[];
  label: string;
  missed: boolean;
  busyReject: boolean;
  result: { text: string; tone: Tone };
};

// An incoming group call's label is "<caller name> +<others>" (crates/client/src/manager/history.rs).
const GROUP_SUFFIX = /^(.*) \+(\d+)$/;

/**
 * Display names by user ID. The host names a callee only if they answered with a name and
 * names a caller by what the call carried, so the same person can come as "Bob Chen" in
 * one entry and "bob" in the next; a name learnt anywhere is used everywhere. The snapshot
 * is the newest word, then entries newest first.
 */
export function knownNames(entries: readonly HistoryEntry[], s: Snapshot | null): Map<string, string> {
  const names = new Map<string, string>();
  const learn = (id: string | undefined, name: string | undefined): void => {
    const n = name?.trim();
    if (id && n && n !== id && !names.has(id)) names.set(id, n);
  };
  if (s) {
    learn(s.userId, s.userName);
    learn(s.call?.callerId, s.call?.callerName);
    for (const p of s.call?.peers ?? []) learn(p.userId, p.name);
  }
  for (const e of entries) {
    if (e.direction === "incoming") learn(e.withIds[0], GROUP_SUFFIX.exec(e.withLabel)?.[1] ?? e.withLabel);
    else {
      // "name, name": one per ID, in order; a name with a comma in it can't be split back.
      const parts = e.withLabel.split(", ");
      if (parts.length === e.withIds.length) e.withIds.forEach((id, i) => learn(id, parts[i]));
    }
  }
  return names;
}

/** Who an entry was with, by the names known for them, else their IDs. */
export function entryLabel(e: HistoryEntry, names: ReadonlyMap<string, string>): string {
  if (e.direction === "incoming") {
    const caller = e.withIds[0] ?? "";
    const group = GROUP_SUFFIX.exec(e.withLabel);
    const name = names.get(caller) ?? ((group ? group[1] : e.withLabel) || caller);
    return group ? `${name} +${group[2]}` : name;
  }
  if (e.withLabel.split(", ").length !== e.withIds.length) return e.withLabel;
  return e.withIds.map((id) => names.get(id) ?? id).join(", ");
}

/** The list's rows: entries in their order, consecutive missed calls of one kind from one caller together. */
export function recentRows(entries: readonly HistoryEntry[], s: Snapshot | null): RecentRow[] {
  const names = knownNames(entries, s);
  const rows: { label: string; entries: HistoryEntry[] }[] = [];
  for (const e of entries) {
    const label = entryLabel(e, names);
    const last = rows[rows.length - 1];
    const prev = last?.entries[last.entries.length - 1];
    // The label tells a group call from a 1:1 call by the same caller.
    if (last && prev && e.missed && prev.missed && e.direction === "incoming" && prev.direction === "incoming" &&
      e.withIds[0] === prev.withIds[0] && e.callType === prev.callType && label === last.label)
      last.entries.push(e);
    else rows.push({ label, entries: [e] });
  }
  return rows.map(({ label, entries: es }) => {
    const entry = es[0]!;
    const results = es.map(historyResult);
    // Missed for different reasons ("Caller hung up", "You were on another call"): what they
    // share, kept short so the row's line doesn't wrap in a narrow window.
    const text = results.every((r) => r.text === results[0]!.text) ? results[0]!.text : "Not answered";
    return {
      key: es[es.length - 1]!.callId,
      entry,
      entries: es,
      label,
      missed: es.some((x) => x.missed || x.busyReject),
      busyReject: es.every((x) => x.busyReject),
      result: { text, tone: results[0]!.tone },
    };
  });
}

/**
 * Missed calls newer than `since` (local clock against the server's times: a skew of
 * seconds at most moves a call that came in that close to the last look).
 */
export function missedSince(entries: readonly HistoryEntry[] | null, since: number | null): number {
  if (!entries || since === null) return 0;
  return entries.filter((e) => e.missed && e.createdAt > since).length;
}
