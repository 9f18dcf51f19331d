// Everyone met so far (in online lists and messages), by id: the people a DM can be started
// with, and the names DMs are titled with. A person's newest name wins.

import type { UserRef } from "../protocol";

export type PeopleState = Readonly<Record<string, string>>;

export function met(state: PeopleState, people: readonly UserRef[]): PeopleState {
  let next = state;
  for (const person of people) {
    if (next[person.id] !== person.name) next = { ...next, [person.id]: person.name };
  }
  return next;
}

/** Who is new or renamed in `next` compared with `before`. */
export function newlyMet(before: PeopleState, next: PeopleState): Record<string, string> {
  const fresh: Record<string, string> = {};
  for (const [id, name] of Object.entries(next)) if (before[id] !== name) fresh[id] = name;
  return fresh;
}
