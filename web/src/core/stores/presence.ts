// Who is online in each joined room: the list from the join reply, then kept current by presence
// events. A room the client is not joined to shows nobody (it would not hear of changes).

import type { UserRef } from "../protocol";

export type PresenceState = Readonly<Record<string, readonly UserRef[]>>;

const NOBODY: readonly UserRef[] = [];

export function onlineIn(state: PresenceState, room: string): readonly UserRef[] {
  return state[room] ?? NOBODY;
}

export function joined(state: PresenceState, room: string, online: readonly UserRef[]): PresenceState {
  return { ...state, [room]: online };
}

export function changed(
  state: PresenceState,
  room: string,
  person: UserRef,
  presence: "online" | "offline",
): PresenceState {
  const others = onlineIn(state, room).filter((u) => u.id !== person.id);
  return { ...state, [room]: presence === "online" ? [...others, person] : others };
}

/** Left, removed, or the connection is gone. */
export function forgotten(state: PresenceState, room: string): PresenceState {
  return onlineIn(state, room).length === 0 ? state : { ...state, [room]: NOBODY };
}
