// Messages typed in each room and not yet acknowledged, in the order they were typed. What
// happens to one after a failure is the outbox's policy (outbox.ts); this keeps the lists.

import type { PendingMessage } from "../outbox";
import type { ChatMessage } from "../protocol";

export type PendingState = Readonly<Record<string, readonly PendingMessage[]>>;

const NONE: readonly PendingMessage[] = [];

export function pendingIn(state: PendingState, room: string): readonly PendingMessage[] {
  return state[room] ?? NONE;
}

/** The next message of a room to go out: the oldest one not given up on. */
export function nextToSend(state: PendingState, room: string): PendingMessage | undefined {
  return [...pendingIn(state, room)]
    .filter((p) => p.state !== "failed")
    .sort((a, b) => a.createdAt - b.createdAt)[0];
}

export function typed(state: PendingState, message: PendingMessage): PendingState {
  return { ...state, [message.room]: [...pendingIn(state, message.room), message] };
}

export function changed(
  state: PendingState,
  room: string,
  clientMsgId: string,
  change: (message: PendingMessage) => PendingMessage,
): PendingState {
  const held = pendingIn(state, room);
  if (!held.some((p) => p.clientMsgId === clientMsgId)) return state;
  return { ...state, [room]: held.map((p) => (p.clientMsgId === clientMsgId ? change(p) : p)) };
}

/** Acknowledged, or discarded by the person: no longer pending. */
export function removed(state: PendingState, room: string, clientMsgId: string): PendingState {
  const held = pendingIn(state, room);
  const kept = held.filter((p) => p.clientMsgId !== clientMsgId);
  return kept.length === held.length ? state : { ...state, [room]: kept };
}

/**
 * The room's messages now include some of one's own (a catch-up after a reconnect): those that
 * were pending were stored before the connection dropped and are sent already.
 */
export function deliveredAmong(
  state: PendingState,
  room: string,
  messages: readonly ChatMessage[],
  me: string,
): PendingState {
  const held = pendingIn(state, room);
  if (held.length === 0) return state;
  const delivered = new Set(messages.filter((m) => m.user.id === me).map((m) => m.client_msg_id));
  const kept = held.filter((p) => !delivered.has(p.clientMsgId));
  return kept.length === held.length ? state : { ...state, [room]: kept };
}
