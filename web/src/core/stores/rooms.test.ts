import { describe, expect, it } from "vitest";

import { changed, disconnected, keptRooms, known, listed, restored, roomTitle } from "./rooms";

describe("rooms", () => {
  it("starts from the rooms kept last time and adds what the server lists", () => {
    let state = restored([{ id: "lobby", kind: "public" }]);
    state = listed(state, [{ id: "team", name: "team", kind: "private", read_only: true, last_seq: 4 }]);
    expect(state.team).toMatchObject({ kind: "private", readOnly: true, kept: false });
    expect(keptRooms(state)).toEqual([{ id: "lobby", kind: "public" }]);
    expect(known(state, "team", "public")).toBe(state);
    expect(listed(state, [{ id: "team", name: "team", kind: "private", read_only: true, last_seq: 9 }])).toBe(state);
  });

  it("takes a list of thousands of rooms as one new state, and an unchanged list as none", () => {
    const infos = Array.from({ length: 5000 }, (_, n) => ({
      id: `room-${n}`,
      name: `room-${n}`,
      kind: "public" as const,
      read_only: false,
      last_seq: n,
    }));
    const state = restored([{ id: "room-7", kind: "public" }]);
    const after = listed(state, infos);
    expect(Object.keys(after)).toHaveLength(5000);
    expect(after["room-7"]).toMatchObject({ kept: true, name: "room-7" });
    expect(state["room-8"]).toBeUndefined(); // the state it was given is left as it was
    expect(listed(after, infos)).toBe(after);
    expect(listed(after, [{ ...infos[3]!, read_only: true }])["room-3"]).toMatchObject({ readOnly: true });
  });

  it("is joined in no room once the connection is gone", () => {
    let state = known(known({}, "a", "public"), "b", "public");
    state = changed(state, "a", { joined: true, kept: true });
    expect(changed(state, "a", { joined: true })).toBe(state);
    const offline = disconnected(state);
    expect(offline.a).toMatchObject({ joined: false, kept: true });
    expect(offline.b).toBe(state.b);
    expect(disconnected(offline)).toBe(offline);
  });

  it("titles a DM with the other person's name", () => {
    const people = { "u-bob": "bob" };
    expect(roomTitle({ id: "dm:u-ann:u-bob", kind: "dm", name: "dm:u-ann:u-bob" }, people, "u-ann")).toBe("bob");
    expect(roomTitle({ id: "dm:u-ann:u-cara", kind: "dm", name: "x" }, people, "u-ann")).toBe("Direct message");
    expect(roomTitle({ id: "team", kind: "private", name: "The team" }, people, "u-ann")).toBe("The team");
    expect(roomTitle({ id: "lobby", kind: "public", name: "" }, people, "u-ann")).toBe("lobby");
  });
});
