import { describe, expect, it } from "vitest";

import { met, newlyMet } from "./people";

describe("people", () => {
  it("remembers everyone met by id, with their newest name", () => {
    const before = met({}, [{ id: "u1", name: "ann" }]);
    const after = met(before, [
      { id: "u1", name: "ann" },
      { id: "u2", name: "bob" },
      { id: "u1", name: "annie" },
    ]);
    expect(after).toEqual({ u1: "annie", u2: "bob" });
    expect(met(after, [{ id: "u2", name: "bob" }])).toBe(after);
    expect(newlyMet(before, after)).toEqual({ u1: "annie", u2: "bob" });
  });
});
