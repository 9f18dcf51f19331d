// Keeps what the next visit needs in step with the stores: the rooms in the sidebar, how far
// each was read, the names of the people met. Written when they change, whoever changed them.

import type { Prefs } from "./prefs";
import type { ChatStores } from "./stores";
import { newlyMet } from "./stores/people";
import { keptRooms } from "./stores/rooms";

/** Starts mirroring; returns the function that stops it. */
export function rememberIn(prefs: Prefs, stores: Pick<ChatStores, "rooms" | "unread" | "people">): () => void {
  let kept = JSON.stringify(keptRooms(stores.rooms.get()));
  let marks = stores.unread.get();
  let people = stores.people.get();
  const stops = [
    stores.rooms.subscribe(() => {
      const now = JSON.stringify(keptRooms(stores.rooms.get()));
      if (now === kept) return;
      kept = now;
      prefs.setRooms(keptRooms(stores.rooms.get()));
    }),
    stores.unread.subscribe(() => {
      const now = stores.unread.get();
      for (const [room, { lastRead }] of Object.entries(now)) {
        if (lastRead > (marks[room]?.lastRead ?? 0)) prefs.setLastRead(room, lastRead);
      }
      marks = now;
    }),
    stores.people.subscribe(() => {
      const now = stores.people.get();
      const fresh = newlyMet(people, now);
      people = now;
      if (Object.keys(fresh).length > 0) prefs.rememberNames(fresh);
    }),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}
