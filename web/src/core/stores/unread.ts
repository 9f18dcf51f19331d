// How far the person has read in each room (the read mark, a seq) and how many messages from
// others came after it. A read mark only moves forward.

import type { ChatMessage } from "../protocol";

export interface RoomUnread {
  readonly unread: number;
  /** The seq read up to; 0 when nothing is known to be read. */
  readonly lastRead: number;
}

export type UnreadState = Readonly<Record<string, RoomUnread>>;

export const NOTHING_READ: RoomUnread = { unread: 0, lastRead: 0 };

export function unreadIn(state: UnreadState, room: string): RoomUnread {
  return state[room] ?? NOTHING_READ;
}

/** The read marks remembered from the last visit. */
export function restored(lastRead: Readonly<Record<string, number>>): UnreadState {
  return Object.fromEntries(Object.entries(lastRead).map(([room, seq]) => [room, { unread: 0, lastRead: seq }]));
}

/** A live message: news unless it is one's own or already behind the read mark. */
export function arrived(state: UnreadState, message: ChatMessage, me: string): UnreadState {
  const held = unreadIn(state, message.room);
  if (message.user.id === me || message.seq <= held.lastRead) return state;
  return { ...state, [message.room]: { ...held, unread: held.unread + 1 } };
}

/** The count worked out afresh (after a join), with the read mark it was counted from. */
export function counted(state: UnreadState, room: string, unread: number, lastRead: number): UnreadState {
  const held = unreadIn(state, room);
  const next = { unread, lastRead: Math.max(held.lastRead, lastRead) };
  return held.unread === next.unread && held.lastRead === next.lastRead ? state : { ...state, [room]: next };
}

/** Everything up to `seq` has been seen. */
export function read(state: UnreadState, room: string, seq: number): UnreadState {
  const held = unreadIn(state, room);
  if (held.unread === 0 && held.lastRead >= seq) return state;
  return { ...state, [room]: { unread: 0, lastRead: Math.max(held.lastRead, seq) } };
}

/** The room left the sidebar: nothing there counts any more (the read mark stays). */
export function dismissed(state: UnreadState, room: string): UnreadState {
  const held = unreadIn(state, room);
  return held.unread === 0 ? state : { ...state, [room]: { ...held, unread: 0 } };
}

/** Messages from others after `lastRead`, among those held. */
export function countUnread(messages: readonly ChatMessage[], lastRead: number, me: string): number {
  let unread = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.seq <= lastRead) break;
    if (message.user.id !== me) unread++;
  }
  return unread;
}
