// How far the person has read in each room and what waits for them there. The read mark (a seq)
// lives on the server and is the same on every device; it only moves forward. Seqs are dense per
// room, so what waits is the newest seq minus the read mark, as the server counts it; a message
// of one's own moves the mark to it (one has read what one wrote), so it is never unread.

import type { ChatMessage, MyRoom } from "../protocol";

export interface RoomUnread {
  /** Messages after the read mark. */
  readonly unread: number;
  /** Of those, the ones that name the person (`@name`). */
  readonly mentions: number;
  /** The seq read up to; 0 when nothing is known to be read. */
  readonly lastRead: number;
  /** The newest seq known in the room. */
  readonly lastSeq: number;
}

export type UnreadState = Readonly<Record<string, RoomUnread>>;

export const NOTHING_READ: RoomUnread = { unread: 0, mentions: 0, lastRead: 0, lastSeq: 0 };

export function unreadIn(state: UnreadState, room: string): RoomUnread {
  return state[room] ?? NOTHING_READ;
}

/** The server told where the person's read mark is (their room list); until then it is not known. */
export function markKnown(state: UnreadState, room: string): boolean {
  return state[room] !== undefined;
}

function marked(held: RoomUnread, lastRead: number, lastSeq: number, mentions: number): RoomUnread {
  const read = Math.max(held.lastRead, lastRead);
  const newest = Math.max(held.lastSeq, lastSeq, read);
  const unread = newest - read;
  return { unread, mentions: unread === 0 ? 0 : Math.min(mentions, unread), lastRead: read, lastSeq: newest };
}

function put(state: UnreadState, room: string, next: RoomUnread): UnreadState {
  const held = state[room];
  if (
    held !== undefined &&
    held.unread === next.unread &&
    held.mentions === next.mentions &&
    held.lastRead === next.lastRead &&
    held.lastSeq === next.lastSeq
  ) {
    return state;
  }
  return { ...state, [room]: next };
}

/**
 * The server's room list: its marks and counts, as one change however many rooms it lists. A
 * mark this client moved further meanwhile (a read on its way) wins; the count follows the mark.
 */
export function listed(state: UnreadState, rooms: readonly MyRoom[]): UnreadState {
  let next: Record<string, RoomUnread> | null = null;
  for (const room of rooms) {
    const held = (next ?? state)[room.id] ?? NOTHING_READ;
    const fresh = marked(held, room.read_seq, room.last_seq, room.mentions);
    const same =
      state[room.id] !== undefined &&
      held.unread === fresh.unread &&
      held.mentions === fresh.mentions &&
      held.lastRead === fresh.lastRead &&
      held.lastSeq === fresh.lastSeq;
    if (same) continue;
    next ??= { ...state };
    next[room.id] = fresh;
  }
  return next ?? state;
}

/** A live message: news unless it is one's own (which reads the room up to it) or already read. */
export function arrived(state: UnreadState, message: ChatMessage, me: string): UnreadState {
  const held = unreadIn(state, message.room);
  if (message.user.id === me) return put(state, message.room, marked(held, message.seq, message.seq, held.mentions));
  if (message.seq <= held.lastSeq) return state;
  const names = message.seq > held.lastRead && (message.mentions ?? []).includes(me) ? 1 : 0;
  return put(state, message.room, marked(held, held.lastRead, message.seq, held.mentions + names));
}

/** Someone named the person in a room this connection has not joined. */
export function mentioned(state: UnreadState, message: ChatMessage): UnreadState {
  const held = unreadIn(state, message.room);
  if (message.seq <= held.lastSeq) return state;
  return put(state, message.room, marked(held, held.lastRead, message.seq, held.mentions + 1));
}

/**
 * A join's catch-up (or, `recovered: false`, only the room's newest seq): the newest seq moves
 * on, one's own messages among them read the room up to them, mentions after what was counted add.
 */
export function caughtUp(
  state: UnreadState,
  room: string,
  messages: readonly ChatMessage[],
  lastSeq: number,
  me: string,
): UnreadState {
  const held = unreadIn(state, room);
  let read = held.lastRead;
  let mentions = held.mentions;
  for (const message of messages) {
    if (message.user.id === me) read = Math.max(read, message.seq);
    else if (message.seq > held.lastSeq && (message.mentions ?? []).includes(me)) mentions++;
  }
  return put(state, room, marked(held, read, lastSeq, mentions));
}

/** Everything up to `seq` has been seen (here, or on another device). */
export function read(state: UnreadState, room: string, seq: number): UnreadState {
  const held = unreadIn(state, room);
  if (seq <= held.lastRead && state[room] !== undefined) return state;
  return put(state, room, marked(held, seq, seq, held.mentions));
}

/** The room left the person's list: nothing there counts any more. */
export function dismissed(state: UnreadState, room: string): UnreadState {
  if (state[room] === undefined) return state;
  const next = { ...state };
  delete next[room];
  return next;
}
