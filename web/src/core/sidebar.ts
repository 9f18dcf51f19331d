// How the sidebar sorts the rooms: kept rooms by name, DMs by latest activity, then the public
// rooms one could join.

import type { RoomKind } from "./api";
import { roomMessages, type MessagesState } from "./stores/messages";
import type { PeopleState } from "./stores/people";
import { roomTitle, type RoomsState } from "./stores/rooms";
import { unreadIn, type UnreadState } from "./stores/unread";

/** A room as the sidebar lists it. */
export interface RoomEntry {
  readonly id: string;
  readonly kind: RoomKind;
  readonly title: string;
  readonly kept: boolean;
  readonly unread: number;
  /** When the newest message held was sent (ms since the epoch); 0 when none is held. */
  readonly lastActivity: number;
}

export interface SidebarSections {
  rooms: RoomEntry[];
  directs: RoomEntry[];
  browse: RoomEntry[];
  unreadTotal: number;
}

export interface SidebarInputs {
  rooms: RoomsState;
  unread: UnreadState;
  people: PeopleState;
  messages: MessagesState;
  me: string;
}

export function roomEntries({ rooms, unread, people, messages, me }: SidebarInputs): RoomEntry[] {
  return Object.values(rooms).map((room) => {
    const held = roomMessages(messages, room.id).messages;
    const last = held[held.length - 1];
    return {
      id: room.id,
      kind: room.kind,
      title: roomTitle(room, people, me),
      kept: room.kept,
      unread: unreadIn(unread, room.id).unread,
      lastActivity: last === undefined ? 0 : Date.parse(last.ts),
    };
  });
}

export function sidebarSections(entries: readonly RoomEntry[]): SidebarSections {
  const byTitle = (a: RoomEntry, b: RoomEntry): number => a.title.localeCompare(b.title);
  const rooms = entries.filter((r) => r.kept && r.kind !== "dm").sort(byTitle);
  const directs = entries
    .filter((r) => r.kept && r.kind === "dm")
    .sort((a, b) => b.lastActivity - a.lastActivity || byTitle(a, b));
  const browse = entries.filter((r) => !r.kept && r.kind === "public").sort(byTitle);
  const unreadTotal = [...rooms, ...directs].reduce((sum, r) => sum + r.unread, 0);
  return { rooms, directs, browse, unreadTotal };
}

/** "3", or "99+" when there are more than fit in a badge. */
export function badgeText(unread: number): string {
  return unread > 99 ? "99+" : String(unread);
}

/** Rooms whose name contains every word typed, best matches (name starts with it) first. */
export function findRooms(rooms: readonly RoomEntry[], query: string): RoomEntry[] {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return [...rooms];
  const hits = rooms.filter((room) => words.every((w) => room.title.toLowerCase().includes(w)));
  const first = words[0]!;
  const starts = (room: RoomEntry): number => (room.title.toLowerCase().startsWith(first) ? 0 : 1);
  return hits.sort((a, b) => starts(a) - starts(b) || a.title.localeCompare(b.title));
}
