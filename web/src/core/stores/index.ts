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
import type { RoomsState } from "./rooms";
import { NO_SEARCH, type SearchState } from "./search";
import { signedIn, type SessionState } from "./session";
import { Store } from "./store";
import type { TypingState } from "./typing";
import type { UnreadState } from "./unread";
import { NO_MEMBERS, type MembersState } from "./members";
import { NO_PEOPLE_FOUND, type PeopleSearchState } from "./peopleSearch";
import type { DraftsState } from "./drafts";

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
  readonly members: Store<MembersState>;
  readonly peopleSearch: Store<PeopleSearchState>;
  readonly drafts: Store<DraftsState>;
}

/**
 * The stores at the start of a visit: empty but for the names met before on this device. The
 * person's rooms and read marks come from the server once connected.
 */
export function createStores(me: UserRef, prefs: Prefs): ChatStores {
  return {
    session: new Store(signedIn(me)),
    navigation: new Store(NOWHERE),
    rooms: new Store<RoomsState>({}),
    directory: new Store(EMPTY_DIRECTORY),
    search: new Store(NO_SEARCH),
    messages: new Store<MessagesState>({}),
    pending: new Store<PendingState>({}),
    presence: new Store<PresenceState>({}),
    typing: new Store<TypingState>({}),
    unread: new Store<UnreadState>({}),
    people: new Store<PeopleState>({ ...prefs.names(), [me.id]: me.name }),
    members: new Store(NO_MEMBERS),
    peopleSearch: new Store(NO_PEOPLE_FOUND),
    drafts: new Store<DraftsState>({}),
  };
}
