// The directory of public rooms as the gateway's room list gave it: one page, the most recently
// active first, and whether there are more (reached by searching). Never the whole directory:
// a deployment may have many thousands of public rooms.

import type { RoomInfo } from "../api";

export interface DirectoryRoom {
  readonly id: string;
  readonly name: string;
  /** When it was last active (ms since the epoch); 0 when the gateway did not say. */
  readonly lastActive: number;
}

export interface DirectoryState {
  readonly rooms: readonly DirectoryRoom[];
  /** The gateway has more public rooms than this page. */
  readonly more: boolean;
}

export const EMPTY_DIRECTORY: DirectoryState = { rooms: [], more: false };

export function directoryRoom(info: RoomInfo): DirectoryRoom {
  const at = info.last_active_at === undefined ? NaN : Date.parse(info.last_active_at);
  return { id: info.id, name: info.name || info.id, lastActive: Number.isNaN(at) ? 0 : at };
}

/** A page from the gateway replaces the one held; the same page again is no change. */
export function paged(state: DirectoryState, infos: readonly RoomInfo[], more: boolean): DirectoryState {
  const rooms = infos.map(directoryRoom);
  return state.more === more && sameRooms(state.rooms, rooms) ? state : { rooms, more };
}

export function sameRooms(a: readonly DirectoryRoom[], b: readonly DirectoryRoom[]): boolean {
  return (
    a.length === b.length &&
    a.every((room, i) => room.id === b[i]!.id && room.name === b[i]!.name && room.lastActive === b[i]!.lastActive)
  );
}
