// How the entries of a room's log that are not messages (edits, deletes, reactions, attachments) change the
// messages they name: the rules of docs/protocol.md "Applying room events", the same the
// persistence worker and the gateway's history follow, so a client that was away shows what one
// that never left shows. Pure functions; the message store calls them as entries arrive.

import { replacedAttachments } from "./attachments";
import type { ChatMessage, EventKind, Reaction } from "./protocol";

const EVENT_KINDS: ReadonlySet<string> = new Set<EventKind>(["edit", "delete", "reaction", "attachment"]);

/** A message (no `kind`), the only entry that becomes a row. */
export function isMessage(entry: ChatMessage): boolean {
  return entry.kind === undefined || entry.kind === null;
}

/** An event this client knows how to apply; an entry of any other kind is ignored. */
export function isKnownEvent(entry: ChatMessage): boolean {
  return typeof entry.kind === "string" && EVENT_KINDS.has(entry.kind);
}

/**
 * The message after `event`, or the very same object when the event changes nothing: already in
 * its state (seq not above `updated_seq`), the message deleted (nothing changes it again), an
 * event of a kind this client does not know, or one malformed.
 */
export function applyEvent(message: ChatMessage, event: ChatMessage, me: string): ChatMessage {
  if (event.target !== message.id || message.deleted === true) return message;
  if (event.seq <= (message.updated_seq ?? 0)) return message;
  switch (event.kind) {
    case "edit":
      // An edit of a message deleted later comes without its words: nothing to show.
      if (typeof event.body !== "string") return message;
      return {
        ...message,
        body: event.body,
        ...(event.edited_at === undefined ? {} : { edited_at: event.edited_at }),
        updated_seq: event.seq,
      };
    case "delete":
      return erased(message, event.seq);
    case "reaction": {
      if (typeof event.emoji !== "string" || typeof event.on !== "boolean") return message;
      const reactions = reacted(message.reactions ?? [], event.emoji, event.on, event.user.id === me);
      const { reactions: _old, ...rest } = message;
      return reactions.length === 0 ? { ...rest, updated_seq: event.seq } : { ...rest, reactions, updated_seq: event.seq };
    }
    case "attachment": {
      // The media step processed the message's files: each named one is replaced by its new state
      // (an image with its size and thumbnail, or one it could not decode, now a file).
      if (!Array.isArray(event.attachments) || message.attachments === undefined) return message;
      const attachments = replacedAttachments(message.attachments, event.attachments);
      return { ...message, attachments: [...attachments], updated_seq: event.seq };
    }
    default:
      return message;
  }
}

/** A deleted message keeps its place (id, seq, author, time) and nothing else. */
function erased(message: ChatMessage, seq: number): ChatMessage {
  const { id, room, user, ts, client_msg_id } = message;
  return { id, room, seq: message.seq, user, ts, client_msg_id, deleted: true, updated_seq: seq };
}

/**
 * The chips after one person added or took back `emoji`: a new emoji goes last (the order each
 * was first added), one that nobody holds any more goes away.
 */
export function reacted(reactions: readonly Reaction[], emoji: string, on: boolean, mine: boolean): Reaction[] {
  const index = reactions.findIndex((r) => r.emoji === emoji);
  if (index < 0) return on ? [...reactions, { emoji, count: 1, me: mine }] : [...reactions];
  const held = reactions[index]!;
  const count = held.count + (on ? 1 : -1);
  const next = [...reactions];
  if (count <= 0) next.splice(index, 1);
  else next[index] = { emoji, count, me: mine ? on : held.me };
  return next;
}

/**
 * Applies `events` (any order: they are applied by seq) to the messages held; an event whose
 * target is not held is skipped (history will return that message with it applied). Returns the
 * same array when nothing changed.
 */
export function applyEvents(
  messages: readonly ChatMessage[],
  byId: ReadonlyMap<string, ChatMessage>,
  events: readonly ChatMessage[],
  me: string,
): { messages: readonly ChatMessage[]; byId: ReadonlyMap<string, ChatMessage> } {
  let list: ChatMessage[] | null = null;
  let index: Map<string, ChatMessage> | null = null;
  for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
    if (!isKnownEvent(event) || typeof event.target !== "string") continue;
    const target = (index ?? byId).get(event.target);
    if (target === undefined) continue;
    const next = applyEvent(target, event, me);
    if (next === target) continue;
    list ??= [...messages];
    index ??= new Map(byId);
    list[list.indexOf(target)] = next;
    index.set(next.id, next);
  }
  return list === null || index === null ? { messages, byId } : { messages: list, byId: index };
}

/** What a reply shows of the message it answers: its text now, cut as the gateway cuts it. */
export const EXCERPT_CHARS = 200;

export function excerptOf(message: ChatMessage): string {
  const chars = Array.from(message.body ?? "");
  return chars.length > EXCERPT_CHARS ? chars.slice(0, EXCERPT_CHARS).join("") : chars.join("");
}
