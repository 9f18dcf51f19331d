// Asks the people directory for usernames that start with what the person types, once they
// pause, as roomSearch.ts does for rooms: only the answer to the latest question counts.

import type { Clock } from "./connection";
import type { UserRef } from "./protocol";
import { SEARCH_PAUSE_MS } from "./roomSearch";
import { answered, asked, failed, namePrefix, type PeopleSearchState } from "./stores/peopleSearch";
import type { Store } from "./stores/store";

export interface PeopleSearchDeps {
  clock: Clock;
  store: Store<PeopleSearchState>;
  find(prefix: string): Promise<UserRef[]>;
}

export class PeopleSearch {
  private readonly deps: PeopleSearchDeps;
  private timer: unknown = null;

  constructor(deps: PeopleSearchDeps) {
    this.deps = deps;
  }

  /** What is in the search box now; "" ends the search. */
  typed(text: string): void {
    const { clock, store } = this.deps;
    const prefix = namePrefix(text);
    clock.clearTimeout(this.timer);
    store.update((s) => asked(s, prefix));
    if (prefix === "" || store.get().answered) return;
    this.timer = clock.setTimeout(() => void this.ask(prefix), SEARCH_PAUSE_MS);
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.timer);
  }

  private async ask(prefix: string): Promise<void> {
    const { store, find } = this.deps;
    try {
      const people = await find(prefix);
      store.update((s) => answered(s, prefix, people));
    } catch (error) {
      store.update((s) => failed(s, prefix, error instanceof Error ? error.message : String(error)));
    }
  }
}
