// The chat's state as separate stores, one per kind of thing, so a change to one (someone types)
// reaches only those who read that one (the typing line), never the message list.

import type { Prefs } from "../prefs";
import type { UserRef } from "../protocol";
import { EMPTY_DIRECTORY, type DirectoryState } from "./directory";
import type { MessagesState } from "./messages";
import { NOWHERE, type NavigationState } from "./navigation";
import type { PeopleState } from "./people";
import type { PendingState } from "./pending";
import type { PresenceState } from "./presence";
import { restored as restoredRooms, type RoomsState } from "./rooms";
import { NO_SEARCH, type SearchState } from "./search";
import { signedIn, type SessionState } from "./session";
import { Store } from "./store";
import type { TypingState } from "./typing";
import { restored as restoredMarks, type UnreadState } from "./unread";

export interface ChatStores {
  readonly session: Store<SessionState>;
  readonly navigation: Store<NavigationState>;
  readonly rooms: Store<RoomsState>;
  readonly directory: Store<DirectoryState>;
  readonly search: Store<SearchState>;
  readonly messages: Store<MessagesState>;
  readonly pending: Store<PendingState>;
  readonly presence: Store<PresenceState>;
  readonly typing: Store<TypingState>;
  readonly unread: Store<UnreadState>;
  readonly people: Store<PeopleState>;
}

/** The stores at the start of a visit: the kept rooms, their read marks and the names met before. */
export function createStores(me: UserRef, prefs: Prefs): ChatStores {
  const kept = prefs.rooms();
  const marks = prefs.lastRead();
  // Read marks count for kept rooms only: a room closed earlier starts afresh when opened again.
  const keptMarks = Object.fromEntries(kept.filter((r) => marks[r.id] !== undefined).map((r) => [r.id, marks[r.id]!]));
  return {
    session: new Store(signedIn(me)),
    navigation: new Store(NOWHERE),
    rooms: new Store(restoredRooms(kept)),
    directory: new Store(EMPTY_DIRECTORY),
    search: new Store(NO_SEARCH),
    messages: new Store<MessagesState>({}),
    pending: new Store<PendingState>({}),
    presence: new Store<PresenceState>({}),
    typing: new Store<TypingState>({}),
    unread: new Store(restoredMarks(keptMarks)),
    people: new Store<PeopleState>({ ...prefs.names(), [me.id]: me.name }),
  };
}
