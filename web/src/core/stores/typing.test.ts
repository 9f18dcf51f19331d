import { describe, expect, it } from "vitest";

import type { UserRef } from "../protocol";
import { TYPING_SHOW_MS } from "../typing";
import { expired, nextExpiry, nobodyHeard, silenced, stopped, typing, typistsIn, type TypingState } from "./typing";

const BOB: UserRef = { id: "u-bob", name: "bob" };
const CARA: UserRef = { id: "u-cara", name: "cara" };
const names = (state: TypingState, room = "r"): string[] => typistsIn(state, room).map((t) => t.user.name);

describe("typing", () => {
  it("shows a typist until their time is up, each new event extending it", () => {
    let state = typing({}, "r", BOB, 1000);
    state = typing(state, "r", CARA, 2000);
    state = typing(state, "r", BOB, 3000);
    expect(names(state)).toEqual(["bob", "cara"]);
    expect(nextExpiry(state)).toBe(2000 + TYPING_SHOW_MS);
    state = expired(state, 2000 + TYPING_SHOW_MS);
    expect(names(state)).toEqual(["bob"]);
    expect(expired(state, 2000 + TYPING_SHOW_MS)).toBe(state);
    expect(names(expired(state, 3000 + TYPING_SHOW_MS))).toEqual([]);
  });

  it("ends a typist's time when their message arrives or the room goes quiet", () => {
    const state = typing(typing({}, "r", BOB, 0), "r", CARA, 0);
    expect(names(stopped(state, "r", BOB.id))).toEqual(["cara"]);
    expect(stopped(state, "other", BOB.id)).toBe(state);
    expect(names(silenced(state, "r"))).toEqual([]);
    expect(nextExpiry(silenced(state, "r"))).toBeUndefined();
  });

  it("hears nobody once the connection is gone", () => {
    const state = typing(typing({}, "r", BOB, 0), "s", CARA, 0);
    expect(nobodyHeard(state)).toEqual({});
    expect(nobodyHeard(nobodyHeard(state))).toEqual({});
    const quiet = silenced(silenced(state, "r"), "s");
    expect(nobodyHeard(quiet)).toBe(quiet);
  });
});
