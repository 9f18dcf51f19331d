// A room's topic: who may set it, what the gateway would refuse, the PATCH sent, and the `room`
// event bringing the new topic to every page that has the room, against the in-memory gateway.

import { describe, expect, it } from "vitest";

import { BOB, startChat, type Chat } from "../test/harness";
import { ProtocolError } from "./protocol";
import { MAX_TOPIC_CHARS, mayEditTopic, topicLength, topicProblem } from "./topic";

async function signedIn(options: Parameters<typeof startChat>[0] = {}): Promise<Chat> {
  const chat = startChat(options);
  chat.client.start();
  await chat.pump();
  return chat;
}

/** Another page with the same rooms, on the same gateway and clock. */
function otherPage(chat: Chat): Promise<Chat> {
  return signedIn({ gateway: chat.gateway, clock: chat.clock });
}

describe("who may set a room's topic", () => {
  it("is the room's owner or moderator, or a global moderator or admin", () => {
    expect(mayEditTopic({ kind: "public", role: "owner" }, ["member"])).toBe(true);
    expect(mayEditTopic({ kind: "private", role: "moderator" }, ["member"])).toBe(true);
    expect(mayEditTopic({ kind: "public", role: "member" }, ["member"])).toBe(false);
    expect(mayEditTopic({ kind: "public", role: null }, [])).toBe(false);
    expect(mayEditTopic({ kind: "public", role: "member" }, ["member", "moderator"])).toBe(true);
    expect(mayEditTopic({ kind: "private", role: null }, ["admin"])).toBe(true);
  });

  it("is nobody in a DM, which has no topic", () => {
    expect(mayEditTopic({ kind: "dm", role: "owner" }, ["admin"])).toBe(false);
  });
});

describe("what a topic may be", () => {
  it("is one line of up to 250 characters, counted as the gateway counts them", () => {
    expect(topicProblem("")).toBeNull();
    expect(topicProblem("Launch plans — Q3 ✨ خطة")).toBeNull();
    expect(topicProblem("x".repeat(MAX_TOPIC_CHARS))).toBeNull();
    expect(topicProblem("x".repeat(MAX_TOPIC_CHARS + 1))).toBe("A topic is at most 250 characters (this one has 251).");
    // An emoji is one character to the gateway and two UTF-16 units to JavaScript.
    const emoji = "🚀".repeat(MAX_TOPIC_CHARS);
    expect(emoji.length).toBe(2 * MAX_TOPIC_CHARS);
    expect(topicLength(emoji)).toBe(MAX_TOPIC_CHARS);
    expect(topicProblem(emoji)).toBeNull();
  });

  it("has no line breaks, controls, or invisible and direction characters", () => {
    for (const broken of ["two\nlines", "two\r\nlines", "a\u2028b"]) {
      expect(topicProblem(broken)).toBe("A topic is one line: remove the line breaks.");
    }
    expect(topicProblem("tab\there")).toBe("A topic cannot hold tabs or control characters.");
    expect(topicProblem("bell\u0007")).toBe("A topic cannot hold tabs or control characters.");
    expect(topicProblem("\u202egnp.exe")).toBe("A topic cannot hold invisible or text-direction characters.");
    expect(topicProblem("zero\u200bwidth")).toBe("A topic cannot hold invisible or text-direction characters.");
  });
});

describe("setting a room's topic", () => {
  it("sends the PATCH and shows the stored topic at once", async () => {
    const chat = await signedIn();
    chat.gateway.addToRoom("team", "private", "owner");
    await chat.pump();
    await chat.client.setTopic("team", "Launch plans");
    expect(chat.gateway.patchesSeen).toEqual([{ room: "team", body: { topic: "Launch plans" } }]);
    expect(chat.room("team").topic).toBe("Launch plans");

    await chat.client.setTopic("team", "");
    expect(chat.gateway.patchesSeen.at(-1)).toEqual({ room: "team", body: { topic: "" } });
    expect(chat.room("team").topic).toBe("");
  });

  it("sends nothing the gateway would refuse, and says why", async () => {
    const chat = await signedIn();
    chat.gateway.addToRoom("team", "private", "owner", "Old");
    await chat.pump();
    await expect(chat.client.setTopic("team", "two\nlines")).rejects.toThrow("A topic is one line");
    await expect(chat.client.setTopic("team", "x".repeat(251))).rejects.toThrow("at most 250 characters");
    expect(chat.gateway.patchesSeen).toEqual([]);
    expect(chat.room("team").topic).toBe("Old");
  });

  it("rejects with the gateway's reason when it refuses, and keeps the topic", async () => {
    const chat = await signedIn();
    chat.gateway.addToRoom("team", "public", "member", "Old");
    await chat.pump();
    const refusal = chat.client.setTopic("team", "Mine now");
    await expect(refusal).rejects.toBeInstanceOf(ProtocolError);
    await expect(refusal).rejects.toThrow("only the room's owner or a moderator may do that");
    expect(chat.room("team").topic).toBe("Old");
  });

  it("reaches every other page that has the room joined through the room event", async () => {
    const mine = await signedIn();
    mine.gateway.addToRoom("team", "public", "owner");
    await mine.pump();
    const other = await otherPage(mine);
    expect(other.room("team")).toMatchObject({ joined: true, topic: "" });

    await mine.client.setTopic("team", "Launch plans");
    expect(other.room("team").topic).toBe("Launch plans");

    // Someone else on the room's staff clears it: both pages follow, and learn who did.
    mine.gateway.topicSet("team", "", BOB);
    expect(mine.room("team").topic).toBe("");
    expect(other.room("team").topic).toBe("");
    expect(other.client.stores.people.get()[BOB.id]).toBe("bob");
  });

  it("ignores the event for a room the page does not have, and one without a topic", async () => {
    const chat = await signedIn();
    chat.gateway.addToRoom("team", "public", "owner", "Kept");
    await chat.pump();
    const rooms = chat.client.stores.rooms.get();
    chat.recorder.latest.push({ type: "room", room: "elsewhere", topic: "News", user: BOB });
    chat.recorder.latest.push({ type: "room", room: "team", user: BOB });
    expect(chat.client.stores.rooms.get()).toBe(rooms);
  });
});
