import { describe, expect, it } from "vitest";

import type { ChatMessage, MyRoom, UserRef } from "../protocol";
import { arrived, caughtUp, dismissed, listed, markKnown, mentioned, read, unreadIn } from "./unread";

const ANN: UserRef = { id: "u-ann", name: "ann" };
const BOB: UserRef = { id: "u-bob", name: "bob" };

function message(seq: number, user: UserRef = BOB, mentions?: string[]): ChatMessage {
  return { id: `m${seq}`, room: "r", seq, user, body: "", ts: "", client_msg_id: "", ...(mentions ? { mentions } : {}) };
}

function mine(room: string, read_seq: number, last_seq: number, mentions = 0): MyRoom {
  return { id: room, kind: "public", read_only: false, last_seq, read_seq, unread: last_seq - read_seq, mentions };
}

describe("unread", () => {
  it("takes the server's marks and counts, as one change however many rooms", () => {
    const rooms = Array.from({ length: 8000 }, (_, n) => mine(`room-${n}`, n, n + 2, n % 2));
    const state = listed({}, rooms);
    expect(unreadIn(state, "room-7")).toEqual({ unread: 2, mentions: 1, lastRead: 7, lastSeq: 9 });
    expect(listed(state, rooms)).toBe(state);
    expect(markKnown(state, "room-7")).toBe(true);
    expect(markKnown(state, "elsewhere")).toBe(false);
  });

  it("keeps a mark this client moved further than the list it is given", () => {
    const state = read(listed({}, [mine("r", 2, 5)]), "r", 5);
    expect(unreadIn(listed(state, [mine("r", 2, 5)]), "r")).toMatchObject({ unread: 0, lastRead: 5 });
  });

  it("counts others' messages after the mark; one's own reads the room up to it", () => {
    let state = listed({}, [mine("r", 2, 2)]);
    for (const m of [message(2), message(3), message(4, BOB, [ANN.id]), message(5)]) state = arrived(state, m, ANN.id);
    expect(unreadIn(state, "r")).toEqual({ unread: 3, mentions: 1, lastRead: 2, lastSeq: 5 });
    state = arrived(state, message(6, ANN), ANN.id);
    expect(unreadIn(state, "r")).toEqual({ unread: 0, mentions: 0, lastRead: 6, lastSeq: 6 });
  });

  it("reads up to a seq, never moving the mark back; what came after stays unread", () => {
    const state = read(listed({}, [mine("r", 3, 10, 2)]), "r", 8);
    expect(unreadIn(state, "r")).toEqual({ unread: 2, mentions: 2, lastRead: 8, lastSeq: 10 });
    expect(read(state, "r", 5)).toBe(state);
    expect(unreadIn(read(state, "r", 10), "r")).toEqual({ unread: 0, mentions: 0, lastRead: 10, lastSeq: 10 });
  });

  it("adds a catch-up's mentions after what was counted, and a mention event's", () => {
    let state = listed({}, [mine("r", 1, 3, 1)]);
    state = caughtUp(state, "r", [message(2), message(3, BOB, [ANN.id]), message(4, BOB, [ANN.id])], 4, ANN.id);
    expect(unreadIn(state, "r")).toEqual({ unread: 3, mentions: 2, lastRead: 1, lastSeq: 4 });
    state = mentioned(state, message(5, BOB, [ANN.id]));
    expect(unreadIn(state, "r")).toMatchObject({ unread: 4, mentions: 3 });
    expect(mentioned(state, message(5, BOB, [ANN.id]))).toBe(state);
  });

  it("forgets a room that left the person's list", () => {
    const state = dismissed(listed({}, [mine("r", 3, 10)]), "r");
    expect(unreadIn(state, "r").unread).toBe(0);
    expect(markKnown(state, "r")).toBe(false);
  });
});
