// Finding a person to write to by the start of their username: what was typed and the people
// directory's answer for it. An answer to an older question is dropped.

import type { UserRef } from "../protocol";

export interface PeopleSearchState {
  /** The username prefix looked for (trimmed, lower case); "" when nothing is typed. */
  readonly prefix: string;
  readonly answered: boolean;
  readonly people: readonly UserRef[];
  readonly error: string | null;
}

export const NO_PEOPLE_FOUND: PeopleSearchState = { prefix: "", answered: true, people: [], error: null };

/** What was typed as the start of a username. */
export function namePrefix(text: string): string {
  return text.trim().toLowerCase().replace(/^@+/, "");
}

export function asked(state: PeopleSearchState, prefix: string): PeopleSearchState {
  if (prefix === "") return state === NO_PEOPLE_FOUND ? state : NO_PEOPLE_FOUND;
  if (state.prefix === prefix) return state;
  return { prefix, answered: false, people: [], error: null };
}

export function answered(state: PeopleSearchState, prefix: string, people: readonly UserRef[]): PeopleSearchState {
  if (state.prefix !== prefix) return state;
  return { prefix, answered: true, people, error: null };
}

export function failed(state: PeopleSearchState, prefix: string, reason: string): PeopleSearchState {
  if (state.prefix !== prefix) return state;
  return { ...state, answered: true, error: reason };
}
