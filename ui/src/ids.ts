// The server's rules for user IDs and invitee lists, checked before a request is sent so
// the user reads a plain sentence next to the box instead of the server's "1003
// invalidRequest". Mirrors crates/protocol/src/limits.rs (MAX_INVITEES_PER_REQUEST,
// MAX_ID_BYTES) and is_valid_id in crates/protocol/src/validate.rs: change them together.

/** limits.rs MAX_INVITEES_PER_REQUEST: users named in one callInvite / callingInvite. */
export const MAX_INVITEES_PER_REQUEST = 9;
/** limits.rs MAX_ID_BYTES; IDs are ASCII, so bytes are characters. */
export const MAX_ID_BYTES = 64;
/** validate.rs is_valid_id: A-Z a-z 0-9 _ . @ + - */
const ID_CHARS = /^[A-Za-z0-9_.@+-]+$/;

/** Splits what the user typed: commas, semicolons and white space separate IDs. */
export function splitIds(text: string): string[] {
  return text.split(/[\s,;]+/).filter((id) => id.length > 0);
}

/** Why one ID can't be sent, or null. */
export function idProblem(id: string): string | null {
  if (id.length > MAX_ID_BYTES) return `“${shorten(id)}” is longer than ${MAX_ID_BYTES} characters, so it can't be a user ID.`;
  if (!ID_CHARS.test(id))
    return `“${shorten(id)}” isn't a user ID: IDs use only letters, digits and _ . @ + - (no spaces or other symbols).`;
  return null;
}

/**
 * The IDs to invite, or the first problem in words. `exclude` are IDs that make no sense
 * to name (yourself; people already in the call) with what to say about each.
 */
export function checkInvitees(text: string, selfId: string, alreadyIn: readonly string[] = []): { users: string[] } | { error: string } {
  const ids = splitIds(text);
  if (ids.length > MAX_INVITEES_PER_REQUEST)
    return { error: `You can call at most ${MAX_INVITEES_PER_REQUEST} people at once; you typed ${ids.length} IDs.` };
  const seen = new Set<string>();
  for (const id of ids) {
    const bad = idProblem(id);
    if (bad) return { error: bad };
    if (id === selfId) return { error: `“${id}” is your own ID: you can't call yourself.` };
    if (alreadyIn.includes(id)) return { error: `“${id}” is already in this call.` };
    if (seen.has(id)) return { error: `“${id}” is listed twice; name each person once.` };
    seen.add(id);
  }
  return { users: ids };
}

function shorten(id: string): string {
  return id.length > 24 ? `${id.slice(0, 20)}…` : id;
}
