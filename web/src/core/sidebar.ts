// How the sidebar sorts the rooms: kept rooms by name, DMs by latest activity, then the public
// rooms one could join (the directory's page, most recently active first).

import type { RoomKind } from "./api";
import type { DirectoryRoom } from "./stores/directory";
import { roomMessages, type MessagesState } from "./stores/messages";
import type { PeopleState } from "./stores/people";
import { roomTitle, type RoomsState } from "./stores/rooms";
import { searchQuery } from "./stores/search";
import { unreadIn, type UnreadState } from "./stores/unread";

/** A room as the sidebar lists it. */
export interface RoomEntry {
  readonly id: string;
  readonly kind: RoomKind;
  readonly title: string;
  readonly kept: boolean;
  readonly unread: number;
  /** Of the unread, those that name the person. */
  readonly mentions: number;
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
    const waiting = unreadIn(unread, room.id);
    return {
      id: room.id,
      kind: room.kind,
      title: roomTitle(room, people, me),
      kept: room.kept,
      unread: waiting.unread,
      mentions: waiting.mentions,
      lastActivity: last === undefined ? 0 : Date.parse(last.ts),
    };
  });
}

// One collator for every comparison: localeCompare builds one per call.
const collator = new Intl.Collator();

export function directoryEntry(room: DirectoryRoom): RoomEntry {
  return { id: room.id, kind: "public", title: room.name, kept: false, unread: 0, mentions: 0, lastActivity: room.lastActive };
}

/**
 * The sections of the sidebar. Rooms to join are the directory's page (the gateway's order) and
 * then the public rooms the client knows of but does not keep (left, or owned elsewhere).
 */
export function sidebarSections(entries: readonly RoomEntry[], directory: readonly DirectoryRoom[] = []): SidebarSections {
  const byTitle = (a: RoomEntry, b: RoomEntry): number => collator.compare(a.title, b.title);
  const rooms = entries.filter((r) => r.kept && r.kind !== "dm").sort(byTitle);
  const directs = entries
    .filter((r) => r.kept && r.kind === "dm")
    .sort((a, b) => b.lastActivity - a.lastActivity || byTitle(a, b));
  const known = new Map(entries.map((r) => [r.id, r]));
  const listed = directory
    .filter((room) => known.get(room.id)?.kept !== true)
    .map((room) => known.get(room.id) ?? directoryEntry(room));
  const inDirectory = new Set(directory.map((room) => room.id));
  const left = entries.filter((r) => !r.kept && r.kind === "public" && !inDirectory.has(r.id)).sort(byTitle);
  const browse = [...listed, ...left];
  const unreadTotal = [...rooms, ...directs].reduce((sum, r) => sum + r.unread, 0);
  return { rooms, directs, browse, unreadTotal };
}

/** "3", or "99+" when there are more than fit in a badge. */
export function badgeText(unread: number): string {
  return unread > 99 ? "99+" : String(unread);
}

/** The rooms whose name starts with what was typed (read as a room name: "Design Rev" is "design-rev"). */
export function findRooms(rooms: readonly RoomEntry[], text: string): RoomEntry[] {
  const query = searchQuery(text);
  return rooms.filter((room) => room.id.startsWith(query));
}
