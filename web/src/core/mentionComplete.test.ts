import { describe, expect, it } from "vitest";

import type { RoomMember } from "./api";
import { MAX_SUGGESTIONS, completed, mentionAt, suggestions } from "./mentionComplete";

const member = (name: string, id = `u-${name}`): RoomMember => ({ id, name, role: "member", online: false });

describe("mentionAt", () => {
  it("finds the name typed after an @ at the caret", () => {
    expect(mentionAt("hi @bo", 6)).toEqual({ start: 3, prefix: "bo" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, prefix: "" });
    expect(mentionAt("(@Al", 4)).toEqual({ start: 1, prefix: "al" });
  });

  it("is no mention in an address, after a space, or with the caret elsewhere", () => {
    expect(mentionAt("bob@exa", 7)).toBeNull();
    expect(mentionAt("@bob is here", 12)).toBeNull();
    expect(mentionAt("hello", 5)).toBeNull();
    expect(mentionAt("@@bo", 4)).toBeNull();
  });
});

describe("suggestions", () => {
  it("lists the members whose name starts with the prefix, by name, without the person", () => {
    const members = [member("carol"), member("bob"), member("bea"), member("ann", "me")];
    expect(suggestions(members, "b", "me").map((m) => m.name)).toEqual(["bea", "bob"]);
    expect(suggestions(members, "", "me").map((m) => m.name)).toEqual(["bea", "bob", "carol"]);
    expect(suggestions(members, "z", "me")).toEqual([]);
  });

  it("stays short", () => {
    const many = Array.from({ length: 30 }, (_, i) => member(`user${String(i).padStart(2, "0")}`));
    expect(suggestions(many, "user", "me")).toHaveLength(MAX_SUGGESTIONS);
  });
});

describe("completed", () => {
  it("puts @username and one space in place of what was typed, keeping the rest", () => {
    const text = "hi @bo how are you";
    const query = mentionAt(text, 6)!;
    expect(completed(text, query, 6, "bob")).toEqual({ text: "hi @bob how are you", caret: 8 });
    expect(completed("@b", mentionAt("@b", 2)!, 2, "bob")).toEqual({ text: "@bob ", caret: 5 });
  });
});
