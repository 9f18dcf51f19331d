import { describe, expect, it } from "vitest";

import { ProtocolError } from "./protocol";
import { READ_THROTTLE_MS, ReadMarker } from "./readMarker";
import { FakeClock } from "../test/fakes";

function setup() {
  const clock = new FakeClock();
  const sent: [string, number][] = [];
  const link = { online: true, fail: null as string | null };
  const marker = new ReadMarker({
    clock,
    online: () => link.online,
    send: async (room, seq) => {
      if (link.fail !== null) throw new ProtocolError(link.fail as "forbidden", link.fail);
      sent.push([room, seq]);
    },
  });
  return { clock, sent, link, marker };
}

describe("ReadMarker", () => {
  it("sends the first mark at once and folds those within the throttle into one with the newest seq", async () => {
    const { clock, sent, marker } = setup();
    marker.seen("lobby", 3);
    await clock.advance(0);
    marker.seen("lobby", 4);
    marker.seen("lobby", 5);
    marker.seen("random", 1); // another room has a throttle of its own
    await clock.advance(READ_THROTTLE_MS - 1);
    expect(sent).toEqual([
      ["lobby", 3],
      ["random", 1],
    ]);
    await clock.advance(1);
    expect(sent.at(-1)).toEqual(["lobby", 5]);
  });

  it("never sends a mark at or behind what the server has", async () => {
    const { clock, sent, marker } = setup();
    marker.known("lobby", 10);
    marker.seen("lobby", 8);
    marker.seen("lobby", 10);
    await clock.advance(READ_THROTTLE_MS);
    expect(sent).toEqual([]);
    marker.seen("lobby", 11);
    await clock.advance(0);
    marker.seen("lobby", 9);
    await clock.advance(READ_THROTTLE_MS);
    expect(sent).toEqual([["lobby", 11]]);
  });

  it("keeps a mark read offline for the next connect", async () => {
    const { clock, sent, link, marker } = setup();
    link.online = false;
    marker.seen("lobby", 7);
    await clock.advance(READ_THROTTLE_MS);
    expect(sent).toEqual([]);
    link.online = true;
    marker.connected();
    await clock.advance(0);
    expect(sent).toEqual([["lobby", 7]]);
  });

  it("gives up on a room it may not read, and tries an unavailable one again after a connect", async () => {
    const { clock, sent, link, marker } = setup();
    link.fail = "forbidden";
    marker.seen("secret", 2);
    link.fail = "unavailable";
    marker.seen("lobby", 4);
    await clock.advance(READ_THROTTLE_MS * 4);
    link.fail = null;
    marker.connected();
    await clock.advance(0);
    expect(sent).toEqual([["lobby", 4]]);
  });
});
