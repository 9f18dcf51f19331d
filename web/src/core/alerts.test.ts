import { describe, expect, it } from "vitest";

import { alertFor } from "./alerts";
import type { ChatMessage } from "./protocol";

function message(body: string, fields: Partial<ChatMessage> = {}): ChatMessage {
  return { id: "m1", room: "lobby", seq: 1, user: { id: "u-bob", name: "bob" }, body, ts: "", client_msg_id: "c", ...fields };
}

describe("alertFor", () => {
  it("alerts for a DM and for a mention, never for one's own message or a plain room message", () => {
    expect(alertFor(message("hi", { room: "dm:u-ann:u-bob" }), "dm", "u-ann", "bob")).toEqual({
      room: "dm:u-ann:u-bob",
      tag: "chat:dm:u-ann:u-bob",
      title: "bob",
      body: "hi",
    });
    expect(alertFor(message("@ann look", { mentions: ["u-ann"] }), "public", "u-ann", "lobby")?.title).toBe("bob in #lobby");
    expect(alertFor(message("lunch?"), "public", "u-ann", "lobby")).toBeNull();
    expect(alertFor(message("me", { user: { id: "u-ann", name: "ann" } }), "dm", "u-ann", "bob")).toBeNull();
  });

  it("shortens a long message to a line or two", () => {
    const alert = alertFor(message("x".repeat(500), { room: "dm:u-ann:u-bob" }), "dm", "u-ann", "bob");
    expect(alert?.body).toHaveLength(140);
    expect(alert?.body.endsWith("…")).toBe(true);
  });
});
