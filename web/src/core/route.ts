// A URL per room: `/r/<room>` for rooms, `/dm/<other user id>` for direct messages. Opening a
// room pushes its URL onto the browser's history, back and forward open the room of the URL
// they land on, and a reload opens the room its URL names.

import type { RoomKind } from "./api";
import type { ChatClient } from "./chat";
import { dmPartner, dmRoomId } from "./protocol";

/** The browser's history as the router uses it (window.history and location, or a test's). */
export interface PageHistory {
  path(): string;
  push(path: string): void;
  replace(path: string): void;
  /** Calls `listener` when back or forward moved to another entry; returns how to stop. */
  onMove(listener: () => void): () => void;
}

export function roomPath(room: string, me: string): string {
  const partner = dmPartner(room, me);
  return partner === null ? `/r/${encodeURIComponent(room)}` : `/dm/${encodeURIComponent(partner)}`;
}

/** The room a path names, or null for any other path (the welcome screen). */
export function roomAt(path: string, me: string): { id: string; kind: RoomKind } | null {
  const match = /^\/(r|dm)\/([^/]+)\/?$/.exec(path);
  if (match === null) return null;
  let name: string;
  try {
    name = decodeURIComponent(match[2]!);
  } catch {
    return null; // a malformed escape names no room
  }
  if (match[1] === "r") return { id: name, kind: "public" }; // the server's list says if it is private
  return name === me ? null : { id: dmRoomId(me, name), kind: "dm" };
}

/** Keeps the URL and the room in view in step; returns the function that stops it. */
export function followRoutes(client: ChatClient, history: PageHistory): () => void {
  const me = (): string => client.stores.session.get().me.id;
  let moving = false;
  const openFromPath = (): void => {
    const target = roomAt(history.path(), me());
    moving = true;
    try {
      if (target === null) client.closeRoom();
      else client.openRoom(target.id, target.kind);
    } finally {
      moving = false;
    }
  };
  if (roomAt(history.path(), me()) !== null) openFromPath();
  const stopNavigation = client.stores.navigation.subscribe(() => {
    const room = client.stores.navigation.get().activeRoom;
    const path = room === null ? "/" : roomPath(room, me());
    if (path === history.path()) return;
    // Back and forward land on an entry; a room the page moves to by itself (after leaving one)
    // takes the place of the one left rather than adding a step to go back through.
    if (moving) history.replace(path);
    else history.push(path);
  });
  const stopMoves = history.onMove(openFromPath);
  return () => {
    stopNavigation();
    stopMoves();
  };
}
