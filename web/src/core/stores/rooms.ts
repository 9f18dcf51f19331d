// The rooms the client knows of: those the person belongs to ("kept": in the sidebar, joined
// whenever the connection is up; the server's list decides, on every device alike), and public
// rooms they opened or could join.

import type { RoomInfo, RoomKind } from "../api";
import { dmPartner, type MyRoom } from "../protocol";
import type { PeopleState } from "./people";

export interface RoomState {
  readonly id: string;
  readonly kind: RoomKind;
  /** The server's name for it (the id until the server lists it). */
  readonly name: string;
  readonly readOnly: boolean;
  /** What the room is about, as its owner or a moderator set it; "" for none. */
  readonly topic: string;
  /** The person's role in it (`owner`, `moderator`, `member`) when the server said. */
  readonly role: string | null;
  /** The person belongs to it (in their sidebar); joined whenever the connection is up. */
  readonly kept: boolean;
  /** Joined on the current connection. */
  readonly joined: boolean;
  readonly loadingOlder: boolean;
  readonly error: string | null;
}

export type RoomsState = Readonly<Record<string, RoomState>>;

function blank(id: string, kind: RoomKind): RoomState {
  return {
    id,
    kind,
    name: id,
    readOnly: false,
    topic: "",
    role: null,
    kept: false,
    joined: false,
    loadingOlder: false,
    error: null,
  };
}

/** A room the person opens or is told of; nothing changes when it is known already. */
export function known(state: RoomsState, id: string, kind: RoomKind): RoomsState {
  return state[id] === undefined ? { ...state, [id]: blank(id, kind) } : state;
}

/**
 * What the server's room list says about these rooms, as one change: one copy of the state
 * however many rooms it names (a change per room would copy the whole state, and tell every
 * listener, once per room: quadratic in the list's length), none when it says nothing new.
 */
export function listed(state: RoomsState, infos: readonly RoomInfo[]): RoomsState {
  let next: Record<string, RoomState> | null = null;
  for (const info of infos) {
    const held = (next ?? state)[info.id];
    const name = info.name || info.id;
    if (held !== undefined && held.kind === info.kind && held.name === name && held.readOnly === info.read_only) {
      continue;
    }
    next ??= { ...state };
    next[info.id] = { ...(held ?? blank(info.id, info.kind)), kind: info.kind, name, readOnly: info.read_only };
  }
  return next ?? state;
}

/**
 * The person's rooms as the server lists them, as one change: each listed room is kept, with the
 * server's kind, read-only flag, topic and role; a kept room the list lacks is no longer kept
 * (left or removed on another device), unless it is in `spare` (joined since the list was asked
 * for, so the list cannot know of it yet).
 */
export function belongTo(state: RoomsState, mine: readonly MyRoom[], spare: ReadonlySet<string> = new Set()): RoomsState {
  let next: Record<string, RoomState> | null = null;
  const listed = new Set<string>();
  for (const room of mine) {
    listed.add(room.id);
    const held = (next ?? state)[room.id] ?? blank(room.id, room.kind);
    const fresh: RoomState = {
      ...held,
      kind: room.kind,
      readOnly: room.read_only,
      topic: room.topic ?? "",
      role: room.role ?? null,
      kept: true,
    };
    if (state[room.id] !== undefined && sameRoom(held, fresh)) continue;
    next ??= { ...state };
    next[room.id] = fresh;
  }
  for (const room of Object.values(state)) {
    if (!room.kept || listed.has(room.id) || spare.has(room.id)) continue;
    next ??= { ...state };
    next[room.id] = { ...room, kept: false, joined: false };
  }
  return next ?? state;
}

function sameRoom(a: RoomState, b: RoomState): boolean {
  return a.kind === b.kind && a.readOnly === b.readOnly && a.topic === b.topic && a.role === b.role && a.kept === b.kept;
}

export function changed(state: RoomsState, id: string, change: Partial<Omit<RoomState, "id">>): RoomsState {
  const held = state[id];
  if (held === undefined) return state;
  const keys = Object.keys(change) as (keyof typeof change)[];
  if (keys.every((key) => held[key] === change[key])) return state;
  return { ...state, [id]: { ...held, ...change } };
}

/** The connection is gone: no room is joined until the next connect joins them again. */
export function disconnected(state: RoomsState): RoomsState {
  if (!Object.values(state).some((r) => r.joined)) return state;
  return Object.fromEntries(Object.entries(state).map(([id, r]) => [id, r.joined ? { ...r, joined: false } : r]));
}

/** What the person sees as the room's name: the other person's name for a DM. */
export function roomTitle(room: Pick<RoomState, "id" | "kind" | "name">, people: PeopleState, me: string): string {
  const partner = dmPartner(room.id, me);
  if (partner !== null) return people[partner] ?? "Direct message";
  if (room.kind === "dm") return "Direct message";
  return room.name || room.id;
}
