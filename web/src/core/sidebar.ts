// How the sidebar sorts the rooms: kept rooms by name, DMs by latest activity, then the public
// rooms one could join.

import type { ChatState, RoomView } from "./chat";

export interface SidebarSections {
  rooms: RoomView[];
  directs: RoomView[];
  browse: RoomView[];
  unreadTotal: number;
}

function lastActivity(room: RoomView): number {
  const last = room.timeline.messages[room.timeline.messages.length - 1];
  return last === undefined ? 0 : Date.parse(last.ts);
}

export function sidebarSections(state: ChatState): SidebarSections {
  const all = Object.values(state.rooms);
  const byTitle = (a: RoomView, b: RoomView): number => a.title.localeCompare(b.title);
  const rooms = all.filter((r) => r.kept && r.kind !== "dm").sort(byTitle);
  const directs = all
    .filter((r) => r.kept && r.kind === "dm")
    .sort((a, b) => lastActivity(b) - lastActivity(a) || byTitle(a, b));
  const browse = all.filter((r) => !r.kept && r.kind === "public").sort(byTitle);
  const unreadTotal = [...rooms, ...directs].reduce((sum, r) => sum + r.unread, 0);
  return { rooms, directs, browse, unreadTotal };
}

/** "3", or "99+" when there are more than fit in a badge. */
export function badgeText(unread: number): string {
  return unread > 99 ? "99+" : String(unread);
}

/** Rooms whose name contains every word typed, best matches (name starts with it) first. */
export function findRooms(rooms: readonly RoomView[], query: string): RoomView[] {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return [...rooms];
  const hits = rooms.filter((room) => words.every((w) => room.title.toLowerCase().includes(w)));
  const first = words[0]!;
  const starts = (room: RoomView): number => (room.title.toLowerCase().startsWith(first) ? 0 : 1);
  return hits.sort((a, b) => starts(a) - starts(b) || a.title.localeCompare(b.title));
}
