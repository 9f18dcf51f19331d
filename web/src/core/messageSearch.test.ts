import { describe, expect, it } from "vitest";

import { excerptParts, queryProblem, searchPage } from "./messageSearch";

describe("excerptParts", () => {
  it("marks the matched runs, counting code points as the gateway does", () => {
    expect(excerptParts("😀 lunch at noon", [[2, 5]])).toEqual([
      { text: "😀 ", match: false },
      { text: "lunch", match: true },
      { text: " at noon", match: false },
    ]);
  });

  it("keeps markup as text and clips matches that overlap or run past the end", () => {
    expect(excerptParts("<b>x</b> y", [[9, 5], [3, 1], [3, 1]])).toEqual([
      { text: "<b>", match: false },
      { text: "x", match: true },
      { text: "</b> ", match: false },
      { text: "y", match: true },
    ]);
    expect(excerptParts("plain", [])).toEqual([{ text: "plain", match: false }]);
  });
});

describe("queryProblem", () => {
  it("asks for a word and at most 200 characters", () => {
    expect(queryProblem("  ")).not.toBeNull();
    expect(queryProblem("a".repeat(201))).not.toBeNull();
    expect(queryProblem(" lunch ")).toBeNull();
  });
});

describe("searchPage", () => {
  it("reads hits and the cursor, leaving out what is not a hit", () => {
    const hit = { message: { id: "m1" }, excerpt: { text: "x", matches: [] } };
    expect(searchPage({ hits: [hit, { message: null }], next_cursor: "c1" })).toEqual({ hits: [hit], next: "c1" });
    expect(searchPage({ hits: [], next_cursor: null }).next).toBeNull();
  });
});
