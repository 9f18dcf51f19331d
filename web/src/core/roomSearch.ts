// Asks the gateway for the public rooms whose name starts with what the person types: once they
// pause (not on every keystroke), and only the answer to the latest question counts.

import type { RoomList } from "./api";
import type { Clock } from "./connection";
import { directoryRoom } from "./stores/directory";
import { answered, askable, asked, failed, searchQuery, type SearchState } from "./stores/search";
import type { Store } from "./stores/store";

// A typist's pause: shorter feels like lag after the last key, longer asks on every key.
export const SEARCH_PAUSE_MS = 250;

export interface RoomSearchDeps {
  clock: Clock;
  store: Store<SearchState>;
  find(query: string): Promise<RoomList>;
}

export class RoomSearch {
  private readonly deps: RoomSearchDeps;
  private timer: unknown = null;

  constructor(deps: RoomSearchDeps) {
    this.deps = deps;
  }

  /** What is in the search box now; "" ends the search. */
  typed(text: string): void {
    const { clock, store } = this.deps;
    const query = searchQuery(text);
    clock.clearTimeout(this.timer);
    store.update((s) => asked(s, query));
    if (!askable(query) || store.get().answered) return;
    this.timer = clock.setTimeout(() => void this.ask(query), SEARCH_PAUSE_MS);
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.timer);
  }

  private async ask(query: string): Promise<void> {
    const { store, find } = this.deps;
    try {
      const list = await find(query);
      // An older gateway ignores the query and lists rooms of every name: keep the matches.
      const rooms = list.rooms.filter((r) => r.kind === "public" && r.id.startsWith(query)).map(directoryRoom);
      store.update((s) => answered(s, query, rooms, list.next !== null));
    } catch (error) {
      store.update((s) => failed(s, query, error instanceof Error ? error.message : String(error)));
    }
  }
}
