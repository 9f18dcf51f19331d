import { describe, expect, it } from "vitest";

import { EMPTY_DIRECTORY, paged } from "./directory";

const info = (id: string, last_active_at?: string) => ({
  id,
  name: id,
  kind: "public" as const,
  read_only: false,
  last_seq: 0,
  ...(last_active_at === undefined ? {} : { last_active_at }),
});

describe("directory", () => {
  it("holds the page the gateway listed, in its order, and the same page again is no change", () => {
    const page = [info("busy", "2025-03-14T12:00:00.000Z"), info("quiet"), info("odd", "not a date")];
    const state = paged(EMPTY_DIRECTORY, page, true);
    expect(state).toEqual({
      rooms: [
        { id: "busy", name: "busy", lastActive: Date.parse("2025-03-14T12:00:00.000Z") },
        { id: "quiet", name: "quiet", lastActive: 0 },
        { id: "odd", name: "odd", lastActive: 0 },
      ],
      more: true,
    });
    expect(paged(state, page, true)).toBe(state);
    expect(paged(state, page, false).more).toBe(false);
    expect(paged(state, [page[1]!, page[0]!, page[2]!], true).rooms[0]!.id).toBe("quiet");
  });
});
