import { describe, expect, it } from "vitest";

import type { ChatMessage } from "./protocol";
import { badgeText, findRooms, roomEntries, sidebarSections, type RoomEntry } from "./sidebar";
import { received } from "./stores/messages";
import { changed, known, listed } from "./stores/rooms";

function entry(id: string, fields: Partial<RoomEntry> = {}): RoomEntry {
  return { id, kind: "public", title: id, kept: false, unread: 0, mentions: 0, lastActivity: 0, ...fields };
}

describe("sidebarSections", () => {
  it("separates kept rooms, DMs and rooms to join, and adds up the unread", () => {
    const sections = sidebarSections([
      entry("zeta", { kept: true, unread: 2 }),
      entry("alpha", { kept: true, kind: "private" }),
      entry("dm:u1:u2", { kept: true, kind: "dm", title: "bob", unread: 1 }),
      entry("lobby"),
    ]);
    expect(sections.rooms.map((r) => r.id)).toEqual(["alpha", "zeta"]);
    expect(sections.directs.map((r) => r.title)).toEqual(["bob"]);
    expect(sections.browse.map((r) => r.id)).toEqual(["lobby"]);
    expect(sections.unreadTotal).toBe(3);
  });

  it("offers the directory's page in its order, then public rooms known and not kept", () => {
    const directory = [
      { id: "busy", name: "busy", lastActive: 300 },
      { id: "mine", name: "mine", lastActive: 200 },
      { id: "left", name: "left", lastActive: 100 },
    ];
    const sections = sidebarSections(
      [entry("mine", { kept: true }), entry("left"), entry("old-haunt"), entry("alpha")],
      directory,
    );
    expect(sections.browse.map((r) => r.id)).toEqual(["busy", "left", "alpha", "old-haunt"]);
    expect(sections.browse[0]).toEqual(entry("busy", { lastActivity: 300 }));
    expect(sections.rooms.map((r) => r.id)).toEqual(["mine"]);
  });

  it("puts the DM with the latest message first", () => {
    const sections = sidebarSections([
      entry("dm:u1:u2", { kept: true, kind: "dm", title: "bob", lastActivity: 100 }),
      entry("dm:u1:u3", { kept: true, kind: "dm", title: "cara", lastActivity: 200 }),
      entry("dm:u1:u4", { kept: true, kind: "dm", title: "dan" }),
    ]);
    expect(sections.directs.map((r) => r.title)).toEqual(["cara", "bob", "dan"]);
  });
});

describe("roomEntries", () => {
  it("titles a DM with the other person's name and dates it by its newest message", () => {
    const message: ChatMessage = {
      id: "m1",
      room: "dm:u1:u2",
      seq: 1,
      user: { id: "u2", name: "bob" },
      body: "hi",
      ts: "2025-03-14T12:00:00.000Z",
      client_msg_id: "c1",
    };
    const rooms = listed(changed(known({}, "dm:u1:u2", "dm"), "dm:u1:u2", { kept: true }), [
      { id: "team", name: "The team", kind: "private", read_only: false, last_seq: 0 },
    ]);
    const entries = roomEntries({
      rooms,
      unread: { team: { unread: 4, mentions: 1, lastRead: 2, lastSeq: 6 } },
      people: { u2: "bob" },
      messages: received({}, message),
      me: "u1",
    });
    expect(entries).toEqual([
      { id: "dm:u1:u2", kind: "dm", title: "bob", kept: true, unread: 0, mentions: 0, lastActivity: Date.parse(message.ts) },
      { id: "team", kind: "private", title: "The team", kept: false, unread: 4, mentions: 1, lastActivity: 0 },
    ]);
  });
});

describe("findRooms", () => {
  const rooms = [entry("design-review"), entry("random"), entry("review-bot"), entry("review_2"), entry("lunch")];

  it("finds rooms whose name starts with what was typed, read as a room name", () => {
    expect(findRooms(rooms, "review").map((r) => r.id)).toEqual(["review-bot", "review_2"]);
    expect(findRooms(rooms, "  #Review Bot").map((r) => r.id)).toEqual(["review-bot"]);
    expect(findRooms(rooms, "review_").map((r) => r.id)).toEqual(["review_2"]);
    expect(findRooms(rooms, "  ")).toHaveLength(5);
    expect(findRooms(rooms, "bot")).toEqual([]);
  });
});

describe("badgeText", () => {
  it("caps what fits in a badge", () => {
    expect(badgeText(7)).toBe("7");
    expect(badgeText(100)).toBe("99+");
  });
});
