import { describe, expect, it } from "vitest";

import type { ChatMessage, UserRef } from "../protocol";
import { arrived, countUnread, counted, dismissed, read, restored, unreadIn } from "./unread";

const ANN: UserRef = { id: "u-ann", name: "ann" };
const BOB: UserRef = { id: "u-bob", name: "bob" };

function message(seq: number, user: UserRef = BOB): ChatMessage {
  return { id: `m${seq}`, room: "r", seq, user, body: "", ts: "", client_msg_id: "" };
}

describe("unread", () => {
  it("counts others' messages after the read mark, not one's own or older ones", () => {
    let state = restored({ r: 2 });
    for (const m of [message(2), message(3), message(4, ANN), message(5)]) state = arrived(state, m, ANN.id);
    expect(unreadIn(state, "r")).toEqual({ unread: 2, lastRead: 2 });
  });

  it("reads up to a seq, never moving the mark back", () => {
    const state = read(counted({}, "r", 3, 10), "r", 12);
    expect(unreadIn(state, "r")).toEqual({ unread: 0, lastRead: 12 });
    expect(unreadIn(read(state, "r", 5), "r").lastRead).toBe(12);
    expect(read(state, "r", 12)).toBe(state);
    expect(unreadIn(counted(state, "r", 1, 4), "r")).toEqual({ unread: 1, lastRead: 12 });
  });

  it("forgets the count of a room that left the sidebar but keeps its mark", () => {
    const state = dismissed(counted({}, "r", 3, 10), "r");
    expect(unreadIn(state, "r")).toEqual({ unread: 0, lastRead: 10 });
  });
});

describe("countUnread", () => {
  it("counts only others' messages after the read mark", () => {
    const messages = [1, 2, 3, 4].map((seq) => message(seq, seq === 3 ? ANN : BOB));
    expect(countUnread(messages, 1, ANN.id)).toBe(2);
  });
});
