// Keeps the names of the people met in step with the people store, so the next visit on this
// device titles DMs at once. Written when the store changes, whoever changed it.

import type { Prefs } from "./prefs";
import type { ChatStores } from "./stores";
import { newlyMet } from "./stores/people";

/** Starts mirroring; returns the function that stops it. */
export function rememberIn(prefs: Prefs, stores: Pick<ChatStores, "people">): () => void {
  let people = stores.people.get();
  return stores.people.subscribe(() => {
    const now = stores.people.get();
    const fresh = newlyMet(people, now);
    people = now;
    if (Object.keys(fresh).length > 0) prefs.rememberNames(fresh);
  });
}
