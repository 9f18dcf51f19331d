import { describe, expect, it } from "vitest";

import type { MyRoom } from "../protocol";
import { belongTo, changed, disconnected, known, listed, roomTitle } from "./rooms";

function mine(id: string, kind: MyRoom["kind"] = "public", fields: Partial<MyRoom> = {}): MyRoom {
  return { id, kind, read_only: false, last_seq: 0, read_seq: 0, unread: 0, mentions: 0, ...fields };
}

describe("rooms", () => {
  it("keeps the rooms the server lists, and no longer keeps one the list lacks unless spared", () => {
    let state = changed(known(known({}, "old", "public"), "new", "public"), "old", { kept: true, joined: true });
    state = changed(state, "new", { kept: true });
    const after = belongTo(state, [mine("team", "private", { topic: "Plans", role: "owner", read_only: true })], new Set(["new"]));
    expect(after.team).toMatchObject({ kind: "private", kept: true, topic: "Plans", role: "owner", readOnly: true });
    expect(after.old).toMatchObject({ kept: false, joined: false });
    expect(after.new).toMatchObject({ kept: true });
    expect(belongTo(after, [mine("team", "private", { topic: "Plans", role: "owner", read_only: true })], new Set(["new"]))).toBe(
      after,
    );
  });

  it("takes a list of thousands of rooms as one new state, and an unchanged list as none", () => {
    const rooms = Array.from({ length: 5000 }, (_, n) => mine(`room-${n}`));
    const after = belongTo({}, rooms);
    expect(Object.keys(after)).toHaveLength(5000);
    expect(after["room-7"]).toMatchObject({ kept: true, name: "room-7" });
    expect(belongTo(after, rooms)).toBe(after);
    expect(listed(after, [{ id: "room-3", name: "room-3", kind: "public", read_only: true, last_seq: 0 }])["room-3"]).toMatchObject({
      readOnly: true,
    });
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
