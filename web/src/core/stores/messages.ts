// The messages the client holds, per room: each by id, and the room's seq index — the held
// messages ascending by seq, a contiguous range up to the newest, each seq and each id once.
// Live messages, catch-up and history pages all enter here, so a message is never shown twice and
// never out of order, whatever order its frames arrived in. Events (edits, deletes, reactions)
// never become entries of the index: they change the messages they name (core/roomLog.ts), and
// move `lastSeq` on like any entry of the log.

import type { ChatMessage } from "../protocol";
import { applyEvents, isMessage } from "../roomLog";

export interface RoomMessages {
  /** The seq index: ascending by seq; no two share an id or a seq. */
  readonly messages: readonly ChatMessage[];
  /** The same messages by id (a room event that changes a message names it by id). */
  readonly byId: ReadonlyMap<string, ChatMessage>;
  /** The highest seq this client has seen or knows to be complete up to; 0 for none. */
  readonly lastSeq: number;
  /** Older messages exist before the first one held (unknown counts as yes). */
  readonly hasMoreBefore: boolean;
  /** Bumped when the room restarts from its newest page: pages asked for before are stale. */
  readonly epoch: number;
}

export type MessagesState = Readonly<Record<string, RoomMessages>>;

export const NO_MESSAGES: RoomMessages = {
  messages: [],
  byId: new Map(),
  lastSeq: 0,
  hasMoreBefore: true,
  epoch: 0,
};

export function roomMessages(state: MessagesState, room: string): RoomMessages {
  return state[room] ?? NO_MESSAGES;
}

/** A live entry of the log (or the reply to one's own send, edit, delete or reaction). */
export function received(state: MessagesState, message: ChatMessage, me = ""): MessagesState {
  return put(state, message.room, merge(roomMessages(state, message.room), [message], me));
}

/**
 * A join reply: the catch-up messages after `since` join the range; when the reply is complete
 * the room's `last_seq` becomes the point to resume from even if no message came with it.
 */
export function caughtUp(
  state: MessagesState,
  room: string,
  messages: readonly ChatMessage[],
  roomLastSeq: number,
  me = "",
): MessagesState {
  const merged = merge(roomMessages(state, room), messages, me);
  return put(state, room, merged.lastSeq >= roomLastSeq ? merged : { ...merged, lastSeq: roomLastSeq });
}

/**
 * The catch-up could not cover the gap (`recovered: false`): what is held no longer meets the
 * present, so the room starts again from nothing, to be filled from its newest page.
 */
export function restarted(state: MessagesState, room: string, roomLastSeq: number): MessagesState {
  const held = roomMessages(state, room);
  return put(state, room, { ...NO_MESSAGES, lastSeq: roomLastSeq, epoch: held.epoch + 1 });
}

/** A history page asked for in `epoch` goes before what is held; one from before a restart is dropped. */
export function pageArrived(
  state: MessagesState,
  room: string,
  page: readonly ChatMessage[],
  hasMore: boolean,
  epoch: number,
  me = "",
): MessagesState {
  const held = roomMessages(state, room);
  if (held.epoch !== epoch) return state;
  const merged = merge(held, page, me);
  return put(state, room, merged.hasMoreBefore === hasMore ? merged : { ...merged, hasMoreBefore: hasMore });
}

export function oldestSeq(room: RoomMessages): number | undefined {
  return room.messages[0]?.seq;
}

/** Nothing held yet and the room may have messages: the newest page is the place to start. */
export function needsLatestPage(room: RoomMessages): boolean {
  return room.messages.length === 0 && room.hasMoreBefore;
}

/**
 * Adds entries of the log (live, caught up or paged): messages join the index in seq order,
 * duplicates dropped; then the events among them, in seq order, change the messages they name.
 */
/** `me`: the reader, whose own reactions the chips mark (`""`: nobody's). */
export function merge(room: RoomMessages, incoming: readonly ChatMessage[], me = ""): RoomMessages {
  if (incoming.length === 0) return room;
  const entries = incoming.filter(isMessage);
  const withMessages = insert(room, entries);
  const events = entries.length === incoming.length ? [] : incoming.filter((entry) => !isMessage(entry));
  let next = withMessages;
  if (events.length > 0) {
    const applied = applyEvents(next.messages, next.byId, events, me);
    if (applied.messages !== next.messages) next = { ...next, messages: applied.messages, byId: applied.byId };
  }
  // An event is an entry of the log like a message: a join resumes after it.
  const top = Math.max(0, ...events.map((entry) => entry.seq));
  return top > next.lastSeq ? { ...next, lastSeq: top } : next;
}

function insert(room: RoomMessages, incoming: readonly ChatMessage[]): RoomMessages {
  if (incoming.length === 0) return room;
  const held = room.messages;
  const last = held[held.length - 1];
  const single = incoming.length === 1 ? incoming[0]! : undefined;
  let messages: ChatMessage[];
  let byId: Map<string, ChatMessage>;
  if (single !== undefined && (last === undefined || single.seq > last.seq)) {
    // The common case, a live message after everything held: no sort needed.
    if (room.byId.has(single.id)) return room;
    messages = [...held, single];
    byId = new Map(room.byId).set(single.id, single);
  } else {
    messages = mergeSorted(held, incoming);
    if (messages.length === held.length) return room;
    byId = new Map(messages.map((m) => [m.id, m]));
  }
  const top = messages[messages.length - 1]!.seq;
  return { ...room, messages, byId, lastSeq: Math.max(room.lastSeq, top) };
}

function mergeSorted(held: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  const ids = new Set<string>();
  const bySeq = new Map<number, ChatMessage>();
  for (const message of [...held, ...incoming]) {
    if (ids.has(message.id) || bySeq.has(message.seq)) continue;
    ids.add(message.id);
    bySeq.set(message.seq, message);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

function put(state: MessagesState, room: string, messages: RoomMessages): MessagesState {
  return state[room] === messages ? state : { ...state, [room]: messages };
}
