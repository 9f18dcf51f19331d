import { describe, expect, it } from "vitest";

import { newPending } from "./outbox";
import type { ChatMessage, UserRef } from "./protocol";
import { buildRows, type Row } from "./rows";
import { NO_MESSAGES, merge } from "./stores/messages";

const ANN: UserRef = { id: "u-ann", name: "ann" };
const BOB: UserRef = { id: "u-bob", name: "bob" };

function message(seq: number, ts: string, user: UserRef = BOB): ChatMessage {
  return { id: `m${seq}`, room: "r", seq, user, body: `m${seq}`, ts, client_msg_id: `c${seq}` };
}

const NOW = new Date("2025-03-14T12:00:00Z");
const shape = (rows: Row[]): string[] =>
  rows.map((row) => {
    switch (row.kind) {
      case "day":
        return `day ${row.label}`;
      case "message":
        return `${row.message.body}${row.first ? " *" : ""}${row.own ? " own" : ""} ${row.time}`;
      case "pending":
        return `pending ${row.pending.body}`;
      default:
        return row.kind;
    }
  });

describe("buildRows", () => {
  it("separates days in the reader's time zone and shows local times", () => {
    const timeline = merge(NO_MESSAGES, [
      message(1, "2025-03-12T23:30:00.000Z"),
      message(2, "2025-03-13T08:00:00.000Z"),
      message(3, "2025-03-13T23:30:00.000Z"),
      message(4, "2025-03-14T09:00:00.000Z"),
    ]);
    const utc = buildRows(timeline, [], ANN.id, { now: NOW, timeZone: "UTC", locale: "en-GB", loadingOlder: false });
    expect(shape(utc)).toEqual([
      "day Wednesday 12 March",
      "m1 * 23:30",
      "day Yesterday",
      "m2 * 08:00",
      "m3 * 23:30",
      "day Today",
      "m4 * 09:00",
    ]);
    // Half past eleven UTC is already the next morning in Tokyo.
    const tokyo = buildRows(timeline, [], ANN.id, {
      now: NOW,
      timeZone: "Asia/Tokyo",
      locale: "en-GB",
      loadingOlder: false,
    });
    expect(shape(tokyo)).toEqual([
      "day Yesterday",
      "m1 * 08:30",
      "m2 * 17:00",
      "day Today",
      "m3 * 08:30",
      "m4 * 18:00",
    ]);
  });

  it("groups one person's messages close in time and marks the reader's own", () => {
    const timeline = merge(NO_MESSAGES, [
      message(1, "2025-03-14T10:00:00.000Z"),
      message(2, "2025-03-14T10:01:00.000Z"),
      message(3, "2025-03-14T10:02:00.000Z", ANN),
      message(4, "2025-03-14T10:20:00.000Z", ANN),
    ]);
    const rows = buildRows(timeline, [], ANN.id, { now: NOW, timeZone: "UTC", locale: "en-GB", loadingOlder: false });
    expect(shape(rows).slice(1)).toEqual(["m1 * 10:00", "m2 10:01", "m3 * own 10:02", "m4 * own 10:20"]);
  });

  it("puts pending messages last and keeps their key when acknowledged", () => {
    const pending = newPending("r", "on its way", "c-9", Date.parse("2025-03-14T11:00:00Z"));
    const before = buildRows(NO_MESSAGES, [pending], ANN.id, {
      now: NOW,
      timeZone: "UTC",
      loadingOlder: false,
    });
    expect(shape(before)).toEqual(["day Today", "pending on its way"]);
    const acked = merge(NO_MESSAGES, [
      { ...message(1, "2025-03-14T11:00:00.000Z", ANN), client_msg_id: "c-9" },
    ]);
    const after = buildRows(acked, [], ANN.id, { now: NOW, timeZone: "UTC", loadingOlder: false });
    expect(before.at(-1)?.key).toBe(after.at(-1)?.key);
  });

  it("marks the start of the room or a page on its way", () => {
    const start = buildRows({ ...NO_MESSAGES, hasMoreBefore: false }, [], null, { now: NOW, loadingOlder: false });
    expect(shape(start)).toEqual(["start"]);
    const loading = buildRows(NO_MESSAGES, [], null, { now: NOW, loadingOlder: true });
    expect(shape(loading)).toEqual(["loader"]);
  });

  it("draws the new messages line before the first message after the read mark, once it knows where that is", () => {
    const times = ["10:00", "10:01", "10:02", "10:03"].map((t) => `2025-03-14T${t}:00.000Z`);
    const timeline = merge(NO_MESSAGES, times.map((ts, i) => message(i + 1, ts)));
    const options = { now: NOW, timeZone: "UTC", locale: "en-GB", loadingOlder: false };
    const rows = buildRows(timeline, [], ANN.id, { ...options, newSince: 2 });
    expect(shape(rows).slice(1)).toEqual(["m1 * 10:00", "m2 10:01", "new", "m3 * 10:02", "m4 10:03"]);
    expect(shape(buildRows(timeline, [], ANN.id, { ...options, newSince: null }))).not.toContain("new");
    // Everything held is newer than the mark and older pages exist: where the line goes is not known yet.
    const page = merge(NO_MESSAGES, [message(3, times[2]!), message(4, times[3]!)]);
    expect(shape(buildRows(page, [], ANN.id, { ...options, newSince: 1 }))).not.toContain("new");
    const start = { ...page, hasMoreBefore: false };
    expect(shape(buildRows(start, [], ANN.id, { ...options, newSince: 0 })).slice(0, 4)).toEqual(["start", "day Today", "new", "m3 * 10:02"]);
  });
});
