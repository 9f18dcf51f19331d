import { describe, expect, it } from "vitest";

import type { ChatMessage } from "../protocol";
import {
  NO_MESSAGES,
  caughtUp,
  merge,
  needsLatestPage,
  oldestSeq,
  pageArrived,
  received,
  restarted,
  roomMessages,
  type MessagesState,
} from "./messages";

function message(seq: number, id = `m${seq}`, room = "lobby"): ChatMessage {
  return {
    id,
    room,
    seq,
    user: { id: "u1", name: "ann" },
    body: `message ${seq}`,
    ts: new Date(Date.UTC(2025, 0, 1, 12, seq)).toISOString(),
    client_msg_id: `c${seq}`,
  };
}

const seqs = (messages: readonly ChatMessage[]): number[] => messages.map((m) => m.seq);
const lobby = (state: MessagesState) => roomMessages(state, "lobby");

describe("merge", () => {
  it("keeps messages in seq order whatever order they arrive in", () => {
    const room = merge(NO_MESSAGES, [message(3), message(1), message(2)]);
    expect(seqs(room.messages)).toEqual([1, 2, 3]);
    expect(room.lastSeq).toBe(3);
  });

  it("drops a message it already holds, by id or by seq", () => {
    const held = merge(NO_MESSAGES, [message(1), message(2)]);
    expect(merge(held, [message(2)])).toBe(held);
    expect(merge(held, [message(2, "other-id")])).toBe(held);
    expect(merge(held, [message(5, "m1")])).toBe(held);
    const again = merge(held, [message(1), message(2), message(3)]);
    expect(seqs(again.messages)).toEqual([1, 2, 3]);
  });

  it("appends a live message after the newest held", () => {
    const held = merge(NO_MESSAGES, [message(1)]);
    const next = merge(held, [message(2)]);
    expect(seqs(next.messages)).toEqual([1, 2]);
    expect(held.messages).toHaveLength(1);
  });

  it("puts a late message with a lower seq in its place", () => {
    const held = merge(NO_MESSAGES, [message(1), message(3)]);
    expect(seqs(merge(held, [message(2)]).messages)).toEqual([1, 2, 3]);
  });

  it("finds every message held by its id", () => {
    const held = merge(merge(NO_MESSAGES, [message(3), message(1)]), [message(4)]);
    expect([...held.byId.keys()].sort()).toEqual(["m1", "m3", "m4"]);
    expect(held.byId.get("m3")).toBe(held.messages[1]);
  });

  it("never lowers lastSeq", () => {
    const held = lobby(caughtUp({}, "lobby", [], 10));
    expect(merge(held, [message(4)]).lastSeq).toBe(10);
  });
});

describe("received", () => {
  it("files a message under its own room and leaves the others alone", () => {
    const state = received(received({}, message(1)), message(1, "r1", "random"));
    expect(seqs(lobby(state).messages)).toEqual([1]);
    expect(roomMessages(state, "random").byId.has("r1")).toBe(true);
    const again = received(state, message(1));
    expect(again).toBe(state);
  });
});

describe("history pages", () => {
  it("start from the newest page and go back before the oldest held", () => {
    expect(needsLatestPage(NO_MESSAGES)).toBe(true);
    const latest = pageArrived({}, "lobby", [message(51), message(52)], true, 0);
    expect(needsLatestPage(lobby(latest))).toBe(false);
    expect(oldestSeq(lobby(latest))).toBe(51);
    const older = pageArrived(latest, "lobby", [message(49), message(50)], false, 0);
    expect(seqs(lobby(older).messages)).toEqual([49, 50, 51, 52]);
    expect(lobby(older).hasMoreBefore).toBe(false);
  });

  it("an empty room needs no further page", () => {
    const empty = pageArrived({}, "lobby", [], false, 0);
    expect(needsLatestPage(lobby(empty))).toBe(false);
  });
});

describe("catch-up", () => {
  it("adds the missed messages and resumes from the room's last seq", () => {
    const held = pageArrived({}, "lobby", [message(1), message(2)], false, 0);
    const after = caughtUp(held, "lobby", [message(3), message(4)], 4);
    expect(seqs(lobby(after).messages)).toEqual([1, 2, 3, 4]);
    expect(lobby(after).lastSeq).toBe(4);
  });

  it("resumes from last_seq even when no message came (unused seqs)", () => {
    const held = received({}, message(1));
    expect(lobby(caughtUp(held, "lobby", [], 7)).lastSeq).toBe(7);
  });

  it("restarts from the latest page when the gap was too wide, dropping pages asked for before", () => {
    const held = pageArrived({}, "lobby", [message(1), message(2)], false, 0);
    const reset = restarted(held, "lobby", 2001);
    expect(lobby(reset).messages).toEqual([]);
    expect(lobby(reset).lastSeq).toBe(2001);
    expect(lobby(reset).hasMoreBefore).toBe(true);
    expect(needsLatestPage(lobby(reset))).toBe(true);
    // A page that was on its way before the restart belongs to the past that was dropped.
    expect(pageArrived(reset, "lobby", [message(3)], true, 0)).toBe(reset);
    const latest = pageArrived(reset, "lobby", [message(2000), message(1999)], true, lobby(reset).epoch);
    expect(seqs(lobby(latest).messages)).toEqual([1999, 2000]);
    expect(lobby(latest).lastSeq).toBe(2001);
  });
});
