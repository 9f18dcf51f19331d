import { describe, expect, it } from "vitest";

import type { ChatMessage } from "./protocol";
import {
  EMPTY_TIMELINE,
  applyCatchUp,
  mergeMessages,
  needsLatestPage,
  oldestSeq,
  prependPage,
  resetToLatest,
} from "./timeline";

function message(seq: number, id = `m${seq}`): ChatMessage {
  return {
    id,
    room: "lobby",
    seq,
    user: { id: "u1", name: "ann" },
    body: `message ${seq}`,
    ts: new Date(Date.UTC(2025, 0, 1, 12, seq)).toISOString(),
    client_msg_id: `c${seq}`,
  };
}

const seqs = (messages: readonly ChatMessage[]): number[] => messages.map((m) => m.seq);

describe("mergeMessages", () => {
  it("keeps messages in seq order whatever order they arrive in", () => {
    const timeline = mergeMessages(EMPTY_TIMELINE, [message(3), message(1), message(2)]);
    expect(seqs(timeline.messages)).toEqual([1, 2, 3]);
    expect(timeline.lastSeq).toBe(3);
  });

  it("drops a message it already holds, by id or by seq", () => {
    const held = mergeMessages(EMPTY_TIMELINE, [message(1), message(2)]);
    expect(mergeMessages(held, [message(2)])).toBe(held);
    expect(mergeMessages(held, [message(2, "other-id")])).toBe(held);
    const again = mergeMessages(held, [message(1), message(2), message(3)]);
    expect(seqs(again.messages)).toEqual([1, 2, 3]);
  });

  it("appends a live message after the newest held", () => {
    const held = mergeMessages(EMPTY_TIMELINE, [message(1)]);
    const next = mergeMessages(held, [message(2)]);
    expect(seqs(next.messages)).toEqual([1, 2]);
    expect(held.messages).toHaveLength(1);
  });

  it("puts a late message with a lower seq in its place", () => {
    const held = mergeMessages(EMPTY_TIMELINE, [message(1), message(3)]);
    expect(seqs(mergeMessages(held, [message(2)]).messages)).toEqual([1, 2, 3]);
  });

  it("never lowers lastSeq", () => {
    const held = applyCatchUp(EMPTY_TIMELINE, [], 10);
    expect(mergeMessages(held, [message(4)]).lastSeq).toBe(10);
  });
});

describe("history pages", () => {
  it("start from the newest page and go back before the oldest held", () => {
    expect(needsLatestPage(EMPTY_TIMELINE)).toBe(true);
    const latest = prependPage(EMPTY_TIMELINE, [message(51), message(52)], true);
    expect(needsLatestPage(latest)).toBe(false);
    expect(oldestSeq(latest)).toBe(51);
    const older = prependPage(latest, [message(49), message(50)], false);
    expect(seqs(older.messages)).toEqual([49, 50, 51, 52]);
    expect(older.hasMoreBefore).toBe(false);
  });

  it("an empty room needs no further page", () => {
    const empty = prependPage(EMPTY_TIMELINE, [], false);
    expect(needsLatestPage(empty)).toBe(false);
  });
});

describe("catch-up", () => {
  it("adds the missed messages and resumes from the room's last seq", () => {
    const held = mergeMessages(EMPTY_TIMELINE, [message(1), message(2)]);
    const caughtUp = applyCatchUp(held, [message(3), message(4)], 4);
    expect(seqs(caughtUp.messages)).toEqual([1, 2, 3, 4]);
    expect(caughtUp.lastSeq).toBe(4);
  });

  it("resumes from last_seq even when no message came (unused seqs)", () => {
    const held = mergeMessages(EMPTY_TIMELINE, [message(1)]);
    expect(applyCatchUp(held, [], 7).lastSeq).toBe(7);
  });

  it("restarts from the latest page when the gap was too wide", () => {
    const reset = resetToLatest([message(2000), message(1999)], true, 2001);
    expect(seqs(reset.messages)).toEqual([1999, 2000]);
    expect(reset.lastSeq).toBe(2001);
    expect(reset.hasMoreBefore).toBe(true);
  });
});
