// Who belongs to a room, with their role, as the gateway last listed them for the members panel.
// Who is online right now comes from the presence store while the room is joined; the list's
// own online flag stands in for it otherwise.

import type { MemberList, RoomMember } from "../api";

export interface RoomMembers {
  readonly members: readonly RoomMember[];
  /** The room has more members than listed. */
  readonly more: boolean;
  readonly loading: boolean;
  readonly error: string | null;
}

export type MembersState = Readonly<Record<string, RoomMembers>>;

export const NO_MEMBERS: MembersState = {};

const NOT_LOADED: RoomMembers = { members: [], more: false, loading: false, error: null };

export function membersIn(state: MembersState, room: string): RoomMembers {
  return state[room] ?? NOT_LOADED;
}

export function loading(state: MembersState, room: string): MembersState {
  const held = membersIn(state, room);
  return held.loading ? state : { ...state, [room]: { ...held, loading: true, error: null } };
}

export function loaded(state: MembersState, room: string, list: MemberList): MembersState {
  return { ...state, [room]: { members: list.members, more: list.more, loading: false, error: null } };
}

export function failed(state: MembersState, room: string, reason: string): MembersState {
  return { ...state, [room]: { ...membersIn(state, room), loading: false, error: reason } };
}

/** Owners first, then moderators, then everyone else. */
export function roleRank(role: string): number {
  return role === "owner" ? 0 : role === "moderator" ? 1 : 2;
}
