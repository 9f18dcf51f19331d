// The messages of one room as the client holds them: a contiguous range of seqs, ascending,
// each message once (by id and by seq), plus what is needed to page further back and to catch up.

import type { ChatMessage } from "./protocol";

export interface Timeline {
  /** Ascending by seq; no two share an id or a seq. */
  readonly messages: readonly ChatMessage[];
  /** The highest seq this client has seen or knows to be complete up to; 0 for none. */
  readonly lastSeq: number;
  /** Older messages exist before the first one held (unknown counts as yes). */
  readonly hasMoreBefore: boolean;
}

export const EMPTY_TIMELINE: Timeline = {
  messages: [],
  lastSeq: 0,
  hasMoreBefore: true,
};

export function oldestSeq(timeline: Timeline): number | undefined {
  return timeline.messages[0]?.seq;
}

/** Adds messages (live, caught up or paged), keeping seq order and dropping duplicates. */
export function mergeMessages(timeline: Timeline, incoming: readonly ChatMessage[]): Timeline {
  if (incoming.length === 0) return timeline;
  const held = timeline.messages;
  const last = held[held.length - 1];
  let messages: ChatMessage[];
  if (incoming.length === 1 && (last === undefined || incoming[0]!.seq > last.seq)) {
    // The common case, a live message after everything held: no sort needed.
    if (held.some((m) => m.id === incoming[0]!.id)) return timeline;
    messages = [...held, incoming[0]!];
  } else {
    messages = mergeSorted(held, incoming);
    if (messages.length === held.length) return timeline;
  }
  const top = messages[messages.length - 1]!.seq;
  return { ...timeline, messages, lastSeq: Math.max(timeline.lastSeq, top) };
}

/** An older page arrived from history: it goes before what is held. */
export function prependPage(
  timeline: Timeline,
  page: readonly ChatMessage[],
  hasMore: boolean,
): Timeline {
  const merged = mergeMessages(timeline, page);
  return { ...merged, hasMoreBefore: hasMore };
}

/**
 * The catch-up could not cover the gap (`recovered: false`): what is held is no longer
 * contiguous with the present, so the room restarts from its latest page.
 */
export function resetToLatest(
  page: readonly ChatMessage[],
  hasMore: boolean,
  roomLastSeq: number,
): Timeline {
  const messages = mergeSorted([], page);
  const top = messages[messages.length - 1]?.seq ?? 0;
  return { messages, lastSeq: Math.max(top, roomLastSeq), hasMoreBefore: hasMore };
}

/**
 * A join reply: the catch-up messages after `since` join the range; when the reply is complete
 * the room's `last_seq` becomes the point to resume from even if no message came with it.
 */
export function applyCatchUp(
  timeline: Timeline,
  messages: readonly ChatMessage[],
  roomLastSeq: number,
): Timeline {
  const merged = mergeMessages(timeline, messages);
  return { ...merged, lastSeq: Math.max(merged.lastSeq, roomLastSeq) };
}

function mergeSorted(
  held: readonly ChatMessage[],
  incoming: readonly ChatMessage[],
): ChatMessage[] {
  const ids = new Set<string>();
  const bySeq = new Map<number, ChatMessage>();
  for (const message of [...held, ...incoming]) {
    if (ids.has(message.id) || bySeq.has(message.seq)) continue;
    ids.add(message.id);
    bySeq.set(message.seq, message);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Nothing held yet and the room may have messages: the newest page is the place to start. */
export function needsLatestPage(timeline: Timeline): boolean {
  return timeline.messages.length === 0 && timeline.hasMoreBefore;
}
