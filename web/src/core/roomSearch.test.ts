import { describe, expect, it } from "vitest";

import type { RoomInfo, RoomList } from "./api";
import { RoomSearch, SEARCH_PAUSE_MS } from "./roomSearch";
import { NO_SEARCH, type SearchState } from "./stores/search";
import { Store } from "./stores/store";
import { FakeClock } from "../test/fakes";

function room(id: string, fields: Partial<RoomInfo> = {}): RoomInfo {
  return { id, name: id, kind: "public", read_only: false, last_seq: 0, member: false, ...fields };
}

/** A gateway whose answers the test releases one by one, in any order. */
function setup() {
  const clock = new FakeClock();
  const store = new Store<SearchState>(NO_SEARCH);
  const asked: { query: string; answer: (list: RoomList) => void; fail: (error: Error) => void }[] = [];
  const find = (query: string): Promise<RoomList> =>
    new Promise((answer, fail) => {
      asked.push({ query, answer, fail });
    });
  return { clock, store, asked, search: new RoomSearch({ clock, store, find }) };
}

describe("RoomSearch", () => {
  it("asks the gateway once the person pauses, for what was typed last", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("d");
    await clock.advance(SEARCH_PAUSE_MS / 2);
    search.typed("De");
    search.typed("Des");
    expect(store.get()).toMatchObject({ query: "des", answered: false });
    await clock.advance(SEARCH_PAUSE_MS - 1);
    expect(asked).toEqual([]);
    await clock.advance(1);
    expect(asked.map((a) => a.query)).toEqual(["des"]);

    asked[0]!.answer({ rooms: [room("design", { last_active_at: "2025-03-14T12:00:00.000Z" }), room("desk")], next: "c2" });
    await clock.advance(0);
    expect(store.get()).toEqual({
      query: "des",
      answered: true,
      rooms: [
        { id: "design", name: "design", lastActive: Date.parse("2025-03-14T12:00:00.000Z") },
        { id: "desk", name: "desk", lastActive: 0 },
      ],
      more: true,
      error: null,
    });
  });

  it("drops an answer to a question no longer asked, whenever it comes", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("lob");
    await clock.advance(SEARCH_PAUSE_MS);
    search.typed("lun");
    await clock.advance(SEARCH_PAUSE_MS);
    asked[1]!.answer({ rooms: [room("lunch")], next: null });
    asked[0]!.answer({ rooms: [room("lobby")], next: null });
    await clock.advance(0);
    expect(store.get()).toMatchObject({ query: "lun", answered: true, rooms: [{ id: "lunch" }] });

    search.typed("");
    expect(store.get()).toBe(NO_SEARCH);
  });

  it("does not ask for what no room name can start with, and says when asking failed", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("café");
    await clock.advance(SEARCH_PAUSE_MS);
    expect(asked).toEqual([]);
    expect(store.get()).toMatchObject({ query: "café", answered: true, rooms: [] });

    search.typed("ops");
    await clock.advance(SEARCH_PAUSE_MS);
    asked[0]!.fail(new Error("cannot reach the chat service"));
    await clock.advance(0);
    expect(store.get()).toMatchObject({ query: "ops", answered: true, error: "cannot reach the chat service" });
  });

  it("keeps only public rooms starting with the query from a gateway that ignores it", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("ops");
    await clock.advance(SEARCH_PAUSE_MS);
    asked[0]!.answer({ rooms: [room("lobby"), room("ops-team", { kind: "private" }), room("ops")], next: null });
    await clock.advance(0);
    expect(store.get().rooms.map((r) => r.id)).toEqual(["ops"]);
  });
});
