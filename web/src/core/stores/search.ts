// Finding a public room by name: what was typed, and the gateway's answer for it (names that
// start with it, the most recently active first), so the person can reach any public room,
// not only those on the directory's first page.

import { ROOM_NAME } from "../protocol";
import { sameRooms, type DirectoryRoom } from "./directory";

export interface SearchState {
  /** The name prefix looked for, normalised like a room name; "" when nothing is typed. */
  readonly query: string;
  /** The gateway answered for `query` (until then the client shows what it holds). */
  readonly answered: boolean;
  readonly rooms: readonly DirectoryRoom[];
  /** More rooms start with it than the answer lists. */
  readonly more: boolean;
  readonly error: string | null;
}

export const NO_SEARCH: SearchState = { query: "", answered: true, rooms: [], more: false, error: null };

/** What was typed as a room name's start: lower case, spaces as dashes, no leading '#'. */
export function searchQuery(text: string): string {
  return text.trim().toLowerCase().replace(/^#+/, "").replace(/\s+/g, "-");
}

/** Whether the gateway can be asked (a room name can start with it). */
export function askable(query: string): boolean {
  return ROOM_NAME.test(query);
}

/** The person typed: a new question, whose answer is still to come unless nothing can match. */
export function asked(state: SearchState, query: string): SearchState {
  if (query === "") return state === NO_SEARCH ? state : NO_SEARCH;
  if (state.query === query) return state;
  return { query, answered: !askable(query), rooms: [], more: false, error: null };
}

/** The gateway's answer; one for a question no longer asked changes nothing. */
export function answered(
  state: SearchState,
  query: string,
  rooms: readonly DirectoryRoom[],
  more: boolean,
): SearchState {
  if (state.query !== query) return state;
  if (state.answered && state.error === null && state.more === more && sameRooms(state.rooms, rooms)) return state;
  return { query, answered: true, rooms, more, error: null };
}

export function failed(state: SearchState, query: string, reason: string): SearchState {
  if (state.query !== query) return state;
  return { ...state, answered: true, error: reason };
}
