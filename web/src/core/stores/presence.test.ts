import { describe, expect, it } from "vitest";

import type { UserRef } from "../protocol";
import { changed, forgotten, joined, onlineIn } from "./presence";

const ANN: UserRef = { id: "u-ann", name: "ann" };
const BOB: UserRef = { id: "u-bob", name: "bob" };

describe("presence", () => {
  it("starts from the join reply's list and follows presence events", () => {
    let state = joined({}, "r", [ANN]);
    state = changed(state, "r", BOB, "online");
    state = changed(state, "r", BOB, "online");
    expect(onlineIn(state, "r")).toEqual([ANN, BOB]);
    state = changed(state, "r", ANN, "offline");
    expect(onlineIn(state, "r")).toEqual([BOB]);
    expect(onlineIn(state, "elsewhere")).toEqual([]);
  });

  it("shows nobody in a room left", () => {
    const state = forgotten(joined({}, "r", [ANN, BOB]), "r");
    expect(onlineIn(state, "r")).toEqual([]);
    expect(forgotten(state, "r")).toBe(state);
  });
});
