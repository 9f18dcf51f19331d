// Who is typing in each room, and until when that is shown. Each typing event extends the time;
// the person's message, leaving the room or a lost connection end it at once.

import type { UserRef } from "../protocol";
import { TYPING_SHOW_MS } from "../typing";

export interface Typist {
  readonly user: UserRef;
  /** Shown until then (ms since the epoch). */
  readonly until: number;
}

export type TypingState = Readonly<Record<string, readonly Typist[]>>;

const NOBODY: readonly Typist[] = [];

export function typistsIn(state: TypingState, room: string): readonly Typist[] {
  return state[room] ?? NOBODY;
}

export function typing(state: TypingState, room: string, person: UserRef, now: number): TypingState {
  const typist = { user: person, until: now + TYPING_SHOW_MS };
  const held = typistsIn(state, room);
  const known = held.some((t) => t.user.id === person.id);
  return { ...state, [room]: known ? held.map((t) => (t.user.id === person.id ? typist : t)) : [...held, typist] };
}

/** Someone's message arrived: what they typed is there, they no longer type. */
export function stopped(state: TypingState, room: string, userId: string): TypingState {
  const held = typistsIn(state, room);
  const rest = held.filter((t) => t.user.id !== userId);
  return rest.length === held.length ? state : { ...state, [room]: rest };
}

/** Drops everyone whose time is up. */
export function expired(state: TypingState, now: number): TypingState {
  let next = state;
  for (const [room, held] of Object.entries(state)) {
    const rest = held.filter((t) => t.until > now);
    if (rest.length !== held.length) next = { ...next, [room]: rest };
  }
  return next;
}

/** The next moment someone's time is up, or undefined when nobody types. */
export function nextExpiry(state: TypingState): number | undefined {
  let next: number | undefined;
  for (const held of Object.values(state)) {
    for (const t of held) if (next === undefined || t.until < next) next = t.until;
  }
  return next;
}

/** Left or removed: nobody there is heard typing any more. */
export function silenced(state: TypingState, room: string): TypingState {
  return typistsIn(state, room).length === 0 ? state : { ...state, [room]: NOBODY };
}

/** The connection is gone: nobody anywhere is heard typing. */
export function nobodyHeard(state: TypingState): TypingState {
  return Object.values(state).some((held) => held.length > 0) ? {} : state;
}
