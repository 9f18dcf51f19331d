import { describe, expect, it } from "vitest";

import { PeopleSearch } from "./peopleSearch";
import type { UserRef } from "./protocol";
import { SEARCH_PAUSE_MS } from "./roomSearch";
import { NO_PEOPLE_FOUND, type PeopleSearchState } from "./stores/peopleSearch";
import { Store } from "./stores/store";
import { FakeClock } from "../test/fakes";

/** A people directory whose answers the test releases one by one, in any order. */
function setup() {
  const clock = new FakeClock();
  const store = new Store<PeopleSearchState>(NO_PEOPLE_FOUND);
  const asked: { prefix: string; answer: (people: UserRef[]) => void; fail: (error: Error) => void }[] = [];
  const find = (prefix: string): Promise<UserRef[]> =>
    new Promise((answer, fail) => {
      asked.push({ prefix, answer, fail });
    });
  return { clock, store, asked, search: new PeopleSearch({ clock, store, find }) };
}

const CARA = { id: "u-cara", name: "cara" };

describe("PeopleSearch", () => {
  it("asks once the person pauses, for the start of the name typed last", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("c");
    await clock.advance(SEARCH_PAUSE_MS / 2);
    search.typed(" @Ca");
    await clock.advance(SEARCH_PAUSE_MS - 1);
    expect(asked).toEqual([]);
    await clock.advance(1);
    expect(asked.map((a) => a.prefix)).toEqual(["ca"]);
    asked[0]!.answer([CARA]);
    await clock.advance(0);
    expect(store.get()).toEqual({ prefix: "ca", answered: true, people: [CARA], error: null });
  });

  it("drops an answer to an older question, whichever arrives first", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("c");
    await clock.advance(SEARCH_PAUSE_MS);
    search.typed("cal");
    await clock.advance(SEARCH_PAUSE_MS);
    asked[1]!.answer([]);
    await clock.advance(0);
    asked[0]!.answer([CARA]);
    await clock.advance(0);
    expect(store.get()).toEqual({ prefix: "cal", answered: true, people: [], error: null });
  });

  it("says why it found nobody when the directory failed, and ends with an empty box", async () => {
    const { clock, store, asked, search } = setup();
    search.typed("ca");
    await clock.advance(SEARCH_PAUSE_MS);
    asked[0]!.fail(new Error("rate limited"));
    await clock.advance(0);
    expect(store.get()).toMatchObject({ prefix: "ca", answered: true, error: "rate limited" });
    search.typed("");
    expect(store.get()).toBe(NO_PEOPLE_FOUND);
  });
});
