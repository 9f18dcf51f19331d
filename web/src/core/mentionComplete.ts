// Completing `@name` in the message box: which name is being typed at the caret, which members of
// the room it may be, and the text once one is chosen. Names are matched as the gateway resolves
// mentions (docs/protocol.md, "Mentions"): lower-case usernames after an `@` that starts the text
// or follows a character that cannot be part of a name.

import type { RoomMember } from "./api";

const NAME_CHAR = /[a-z0-9_.-]/i;

// A short list the person can read at a glance; typing another letter narrows it.
export const MAX_SUGGESTIONS = 8;

export interface MentionQuery {
  /** Where the `@` is. */
  start: number;
  /** The letters typed after it, lower-cased. */
  prefix: string;
}

/** The `@name` the caret is at the end of, or null when the caret is not in one. */
export function mentionAt(text: string, caret: number): MentionQuery | null {
  let at = caret;
  while (at > 0 && NAME_CHAR.test(text[at - 1]!)) at--;
  if (at === 0 || text[at - 1] !== "@") return null;
  const start = at - 1;
  if (start > 0 && (NAME_CHAR.test(text[start - 1]!) || text[start - 1] === "@")) return null;
  return { start, prefix: text.slice(at, caret).toLowerCase() };
}

/** The room's members whose username starts with `prefix`, the person themselves left out, by name. */
export function suggestions(members: readonly RoomMember[], prefix: string, me: string): RoomMember[] {
  return members
    .filter((member) => member.id !== me && member.name.toLowerCase().startsWith(prefix))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, MAX_SUGGESTIONS);
}

/** The text with the `@name` being typed replaced by `@username ` and where the caret goes. */
export function completed(text: string, query: MentionQuery, caret: number, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  const rest = text.slice(caret).replace(/^ /, "");
  return { text: text.slice(0, query.start) + inserted + rest, caret: query.start + inserted.length };
}
