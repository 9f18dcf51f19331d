// React's view of the chat store.

import { useSyncExternalStore } from "react";

import type { ChatState, ChatStore } from "../core/chat";

export function useChat(store: ChatStore): ChatState {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
