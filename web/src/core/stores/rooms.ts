// The rooms the client knows of: those in the person's sidebar ("kept", joined whenever the
// connection is up), and public rooms the server listed that one could join.

import type { RoomInfo, RoomKind } from "../api";
import type { KeptRoom } from "../prefs";
import { dmPartner } from "../protocol";
import type { PeopleState } from "./people";

export interface RoomState {
  readonly id: string;
  readonly kind: RoomKind;
  /** The server's name for it (the id until the server lists it). */
  readonly name: string;
  readonly readOnly: boolean;
  /** In the person's sidebar; joined whenever the connection is up. */
  readonly kept: boolean;
  /** Joined on the current connection. */
  readonly joined: boolean;
  readonly loadingOlder: boolean;
  readonly error: string | null;
}

export type RoomsState = Readonly<Record<string, RoomState>>;

function blank(id: string, kind: RoomKind): RoomState {
  return { id, kind, name: id, readOnly: false, kept: false, joined: false, loadingOlder: false, error: null };
}

/** The rooms kept on the last visit. */
export function restored(kept: readonly KeptRoom[]): RoomsState {
  return Object.fromEntries(kept.map((r) => [r.id, { ...blank(r.id, r.kind), kept: true }]));
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

export function keptRooms(state: RoomsState): KeptRoom[] {
  return Object.values(state)
    .filter((r) => r.kept)
    .map((r) => ({ id: r.id, kind: r.kind }));
}

/** What the person sees as the room's name: the other person's name for a DM. */
export function roomTitle(room: Pick<RoomState, "id" | "kind" | "name">, people: PeopleState, me: string): string {
  const partner = dmPartner(room.id, me);
  if (partner !== null) return people[partner] ?? "Direct message";
  if (room.kind === "dm") return "Direct message";
  return room.name || room.id;
}
