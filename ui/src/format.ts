import type { CallView, Connection, HistoryEntry, Member } from "./types";

/** Up to two initials: "Alice Smith" → "AS", "bob" → "B", "carol_99" → "C", "Erin Novak +2" → "EN". */
export function initials(name: string): string {
  // Words that start with no letter or digit ("+2" of a group call's label) aren't a name's.
  const words = name
    .trim()
    .split(/[\s._-]+/)
    .filter((w) => /^[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return "?";
  const first = Array.from(words[0] ?? "")[0] ?? "";
  const second = words.length > 1 ? (Array.from(words[words.length - 1] ?? "")[0] ?? "") : "";
  return (first + second).toUpperCase() || "?";
}

const AVATAR_HUES = [212, 262, 330, 14, 32, 152, 186, 236];

/** A stable hue for a user, so the same person always gets the same avatar colour. */
export function avatarHue(key: string): number {
  let h = 0;
  for (const ch of key) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return AVATAR_HUES[h % AVATAR_HUES.length] ?? 212;
}

/** "0:07", "12:34", "1:02:03". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** "3 min", "45 s", "1 h 5 min" for talk times in the history. */
export function formatTalk(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  if (total < 60) return `${total} s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function hhmm(d: Date): string {
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "14:05", "Yesterday 09:12", "3 Mar 18:40", "3 Mar 2023". */
export function formatWhen(ms: number, now: number): string {
  const d = new Date(ms);
  const today = new Date(now);
  if (sameDay(d, today)) return hhmm(d);
  const yesterday = new Date(now - 86_400_000);
  if (sameDay(d, yesterday)) return `Yesterday ${hhmm(d)}`;
  const date = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === today.getFullYear() ? `${date} ${hhmm(d)}` : `${date} ${d.getFullYear()}`;
}

/** Splits the ID box: commas, semicolons and white space separate IDs; duplicates dropped. */
export function parseUserIds(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of text.split(/[\s,;]+/)) {
    if (id && !seen.has(id)) {
      seen.add(id);
      out.push(id);
    }
  }
  return out;
}

/** "Bob", "Bob and Carol", "Bob, Carol and Dan", "Bob, Carol +3". */
export function joinNames(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return names[0] ?? "";
  if (names.length <= 3) return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  return `${names.slice(0, 2).join(", ")} +${names.length - 2}`;
}

/** Who the call is with, as this user sees it. */
export function callPartyLabel(call: CallView): string {
  if (call.direction === "incoming" && !call.group) return call.callerName || call.callerId;
  const names = call.peers.map((p) => p.name || p.userId);
  if (names.length === 0) return call.callerName || call.callerId;
  return joinNames(names);
}

export type Tone = "ok" | "warn" | "bad" | "muted" | "info";

/**
 * Why a callee may not be online, said honestly: the server can't tell an ID nobody signs
 * in with from a user who is signed out, so a mistyped ID looks exactly like an offline user.
 */
export function notOnlineWhy(count: number): string {
  return `they may be signed out, or ${count === 1 ? "the" : "an"} ID may be mistyped`;
}

/** "bob isn't online — they may be signed out, or the ID may be mistyped." */
export function notOnlineText(names: string[]): string {
  return `${joinNames(names)} ${names.length === 1 ? "isn't" : "aren't"} online — ${notOnlineWhy(names.length)}.`;
}

/** How one member's state reads, from the state and its reason alone. */
export function memberStatus(m: Member): { text: string; tone: Tone } {
  switch (m.state) {
    case "inviting":
      // Short for a pill; the page says why next to it (notOnlineText).
      return { text: "Not online", tone: "muted" };
    case "received":
      return { text: "Ringing", tone: "info" };
    case "accepted":
      return { text: "In the call", tone: "ok" };
    case "rejected":
      return m.reason === "busy" ? { text: "Busy", tone: "warn" } : { text: "Declined", tone: "bad" };
    case "timeout":
      return { text: "No answer", tone: "warn" };
    case "cancelled":
      return m.reason === "callerGone"
        ? { text: "Caller left", tone: "muted" }
        : { text: "Cancelled", tone: "muted" };
    case "quit":
      return m.reason === "connectionLost"
        ? { text: "Connection lost", tone: "bad" }
        : { text: "Left", tone: "muted" };
  }
}

/** The connection pill. */
export function connectionStatus(c: Connection): { text: string; tone: Tone; detail: string } {
  switch (c.state) {
    case "connected":
      return { text: "Online", tone: "ok", detail: "Connected to the server" };
    case "connecting":
      return { text: "Connecting…", tone: "warn", detail: "Connecting to the server" };
    case "reconnecting":
      return {
        text: "Reconnecting…",
        tone: "warn",
        detail: `Reconnecting (attempt ${c.attempt})${c.reason ? `: ${c.reason}` : ""}`,
      };
    case "disconnected":
      return { text: "Offline", tone: "bad", detail: `Disconnected${c.reason ? `: ${c.reason}` : ""}` };
  }
}

/** The result line of one history entry. */
export function historyResult(e: HistoryEntry): { text: string; tone: Tone } {
  // Missed entries carry a "Missed" badge; the line says why.
  if (e.busyReject) return { text: "You were on another call", tone: "bad" };
  if (e.missed)
    return { text: e.result === "cancelled" ? "Caller hung up" : "Not answered", tone: "bad" };
  switch (e.result) {
    case "answered":
      return { text: e.talkMs !== null ? `Answered · ${formatTalk(e.talkMs)}` : "Answered", tone: "muted" };
    case "inCall":
      return { text: "In progress", tone: "ok" };
    case "ringing":
      return { text: "Ringing", tone: "info" };
    case "declined":
      return { text: e.direction === "incoming" ? "Declined by you" : "Declined", tone: "muted" };
    case "busy":
      return { text: "Busy", tone: "muted" };
    case "cancelled":
      return { text: e.direction === "outgoing" ? "Cancelled" : "Cancelled by caller", tone: "muted" };
    case "noAnswer":
      return { text: "No answer", tone: "muted" };
    case "missed":
      return { text: "Missed", tone: "bad" };
  }
}
