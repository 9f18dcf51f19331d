// React's view of the chat: the client in a context, and hooks that subscribe a component to one
// slice of one store, so it renders again only when that slice changes (someone typing renders
// the typing line again, not the message list).

import { createContext, useContext, useSyncExternalStore, type ReactNode } from "react";

import type { ChatClient } from "../core/chat";
import type { ConnectionState } from "../core/connection";
import type { PendingMessage } from "../core/outbox";
import { dmPartner, type UserRef } from "../core/protocol";
import { draftsIn, type DraftFile } from "../core/stores/drafts";
import { membersIn, type RoomMembers } from "../core/stores/members";
import { roomMessages, type RoomMessages } from "../core/stores/messages";
import type { PeopleSearchState } from "../core/stores/peopleSearch";
import type { PeopleState } from "../core/stores/people";
import { pendingIn } from "../core/stores/pending";
import { onlineIn } from "../core/stores/presence";
import { roomTitle, type RoomState } from "../core/stores/rooms";
import { maySpeakInReadOnly } from "../core/stores/session";
import type { Store } from "../core/stores/store";
import { typistsIn, type Typist } from "../core/stores/typing";
import { unreadIn, type RoomUnread } from "../core/stores/unread";

const ChatContext = createContext<ChatClient | null>(null);

export function ChatProvider({ client, children }: { client: ChatClient; children: ReactNode }) {
  return <ChatContext.Provider value={client}>{children}</ChatContext.Provider>;
}

export function useChatClient(): ChatClient {
  const client = useContext(ChatContext);
  if (client === null) throw new Error("useChatClient outside a ChatProvider");
  return client;
}

/**
 * The part of a store that `select` picks. It must return a piece of the state as it is (or a
 * primitive), never an object made afresh: React compares what it returns with `Object.is`, and
 * a new object every time would render again on every change. Derive with useMemo instead.
 */
export function useStore<S, T>(store: Store<S>, select: (state: S) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.get()));
}

export function useMe(): UserRef {
  return useStore(useChatClient().stores.session, (s) => s.me);
}

export function useConnection(): ConnectionState {
  return useStore(useChatClient().stores.session, (s) => s.connection);
}

export function useSessionId(): string | null {
  return useStore(useChatClient().stores.session, (s) => s.session);
}

export function useNotice(): string | null {
  return useStore(useChatClient().stores.session, (s) => s.notice);
}

export function useMaxBodyChars(): number {
  return useStore(useChatClient().stores.session, (s) => s.maxBodyChars);
}

/** The person's global roles (`member`, `moderator`, `admin`) from the connect reply. */
export function useRoles(): readonly string[] {
  return useStore(useChatClient().stores.session, (s) => s.roles);
}

/** Moderators and admins may post in read-only rooms. */
export function useMaySpeakInReadOnly(): boolean {
  return useStore(useChatClient().stores.session, maySpeakInReadOnly);
}

export function useActiveRoomId(): string | null {
  return useStore(useChatClient().stores.navigation, (s) => s.activeRoom);
}

/** Where the "new messages" line goes in the open room: the seq after which messages are new. */
export function useNewSince(): number | null {
  return useStore(useChatClient().stores.navigation, (s) => s.newSince);
}

export function useRoom(id: string | null): RoomState | undefined {
  return useStore(useChatClient().stores.rooms, (s) => (id === null ? undefined : s[id]));
}

/** The room's name as the person sees it (a DM: the other person's name). */
export function useRoomTitle(room: RoomState): string;
export function useRoomTitle(room: RoomState | undefined): string | undefined;
export function useRoomTitle(room: RoomState | undefined): string | undefined {
  const me = useMe().id;
  const partner = room === undefined ? null : dmPartner(room.id, me);
  const name = useStore(useChatClient().stores.people, (s) => (partner === null ? undefined : s[partner]));
  if (room === undefined) return undefined;
  return roomTitle(room, partner === null || name === undefined ? {} : { [partner]: name }, me);
}

export function useRoomMessages(id: string): RoomMessages {
  return useStore(useChatClient().stores.messages, (s) => roomMessages(s, id));
}

export function usePending(id: string): readonly PendingMessage[] {
  return useStore(useChatClient().stores.pending, (s) => pendingIn(s, id));
}

export function useOnline(id: string): readonly UserRef[] {
  return useStore(useChatClient().stores.presence, (s) => onlineIn(s, id));
}

export function useTypists(id: string): readonly Typist[] {
  return useStore(useChatClient().stores.typing, (s) => typistsIn(s, id));
}

export function useUnread(id: string): RoomUnread {
  return useStore(useChatClient().stores.unread, (s) => unreadIn(s, id));
}

export function useMembers(room: string): RoomMembers {
  return useStore(useChatClient().stores.members, (s) => membersIn(s, room));
}

export function usePeopleFound(): PeopleSearchState {
  return useStore(useChatClient().stores.peopleSearch, (s) => s);
}

export function usePeople(): PeopleState {
  return useStore(useChatClient().stores.people, (s) => s);
}

/** The files chosen for the message being written in a room (uploading, uploaded or failed). */
export function useDrafts(room: string): readonly DraftFile[] {
  return useStore(useChatClient().stores.drafts, (s) => draftsIn(s, room));
}
