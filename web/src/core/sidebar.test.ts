import { describe, expect, it } from "vitest";

import type { ChatState, RoomView } from "./chat";
import { badgeText, findRooms, sidebarSections } from "./sidebar";
import { EMPTY_TIMELINE } from "./timeline";

function room(id: string, fields: Partial<RoomView> = {}): RoomView {
  return {
    id,
    kind: "public",
    title: id,
    readOnly: false,
    kept: false,
    joined: false,
    timeline: EMPTY_TIMELINE,
    pending: [],
    online: [],
    typing: [],
    unread: 0,
    lastRead: 0,
    loadingOlder: false,
    error: null,
    ...fields,
  };
}

function state(rooms: RoomView[]): ChatState {
  return {
    me: { id: "u1", name: "ann" },
    roles: [],
    session: null,
    connection: { phase: "online" },
    rooms: Object.fromEntries(rooms.map((r) => [r.id, r])),
    activeRoom: null,
    notice: null,
    maxBodyChars: 4000,
    people: {},
  };
}

describe("sidebarSections", () => {
  it("separates kept rooms, DMs and rooms to join, and adds up the unread", () => {
    const sections = sidebarSections(
      state([
        room("zeta", { kept: true, unread: 2 }),
        room("alpha", { kept: true, kind: "private" }),
        room("dm:u1:u2", { kept: true, kind: "dm", title: "bob", unread: 1 }),
        room("lobby"),
      ]),
    );
    expect(sections.rooms.map((r) => r.id)).toEqual(["alpha", "zeta"]);
    expect(sections.directs.map((r) => r.title)).toEqual(["bob"]);
    expect(sections.browse.map((r) => r.id)).toEqual(["lobby"]);
    expect(sections.unreadTotal).toBe(3);
  });
});

describe("findRooms", () => {
  const rooms = [room("design-review"), room("random"), room("review-bot"), room("lunch")];

  it("finds rooms containing every word, those starting with it first", () => {
    expect(findRooms(rooms, "review").map((r) => r.id)).toEqual(["review-bot", "design-review"]);
    expect(findRooms(rooms, "REV bot").map((r) => r.id)).toEqual(["review-bot"]);
    expect(findRooms(rooms, "  ")).toHaveLength(4);
    expect(findRooms(rooms, "nothing")).toEqual([]);
  });
});

describe("badgeText", () => {
  it("caps what fits in a badge", () => {
    expect(badgeText(7)).toBe("7");
    expect(badgeText(100)).toBe("99+");
  });
});
