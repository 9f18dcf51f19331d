import { describe, expect, it } from "vitest";

import { PAGE_SIZE } from "./chat";
import { MemoryStore } from "./prefs";
import { CloseCode, type ChatMessage } from "./protocol";
import { settle } from "../test/fakes";
import { BOB, startChat as setup } from "../test/harness";

describe("ChatClient", () => {
  it("opens a room at its newest page and pages back to the start", async () => {
    const { gateway, client, pump, room, bodies } = setup();
    for (let i = 1; i <= 120; i++) gateway.store("lobby", `m${i}`, BOB, `b${i}`);
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    expect(room("lobby").joined).toBe(true);
    expect(bodies("lobby")).toHaveLength(PAGE_SIZE);
    expect(bodies("lobby").at(-1)).toBe("m120");
    void client.loadOlder("lobby");
    await pump();
    void client.loadOlder("lobby");
    await pump();
    expect(bodies("lobby")).toEqual(Array.from({ length: 120 }, (_, i) => `m${i + 1}`));
    expect(room("lobby").timeline.hasMoreBefore).toBe(false);
  });

  it("shows a sent message once: pending, then acknowledged, whatever arrives first", async () => {
    const { gateway, client, pump, room, bodies } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    gateway.answering = false;
    client.send("lobby", "hello");
    await settle();
    expect(room("lobby").pending.map((p) => [p.body, p.state])).toEqual([["hello", "sending"]]);
    gateway.answering = true;
    await pump(); // the gateway pushes the message event, then the reply with the same message
    expect(room("lobby").pending).toEqual([]);
    expect(bodies("lobby")).toEqual(["hello"]);
  });

  it("catches up after a reconnect: every missed message once, in seq order", async () => {
    const { gateway, client, pump, clock, recorder, bodies, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    gateway.post("lobby", "before", BOB);
    await pump();
    recorder.latest.drop(CloseCode.abnormal);
    await settle();
    expect(client.stores.session.get().connection.phase).toBe("reconnecting");
    for (const body of ["while away 1", "while away 2", "while away 3"]) gateway.store("lobby", body, BOB, body);
    await clock.advance(1000);
    await pump();
    const join = recorder.latest.last("join");
    expect(join).toMatchObject({ room: "lobby", since: 1 });
    expect(bodies("lobby")).toEqual(["before", "while away 1", "while away 2", "while away 3"]);
    gateway.post("lobby", "live again", BOB);
    await pump();
    expect(room("lobby").timeline.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it("reloads the newest history when the gap was too wide to catch up", async () => {
    const { gateway, client, pump, clock, recorder, bodies, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    gateway.post("lobby", "old", BOB);
    await pump();
    recorder.latest.drop(CloseCode.abnormal);
    gateway.window = 2;
    for (let i = 1; i <= 60; i++) gateway.store("lobby", `missed ${i}`, BOB, `x${i}`);
    await clock.advance(1000);
    await pump();
    expect(bodies("lobby")).toHaveLength(PAGE_SIZE);
    expect(bodies("lobby").at(-1)).toBe("missed 60");
    expect(bodies("lobby")).not.toContain("old");
    expect(room("lobby").timeline.lastSeq).toBe(61);
    expect(room("lobby").timeline.hasMoreBefore).toBe(true);
  });

  it("resends a message cut off by a disconnect with the same client_msg_id, stored once", async () => {
    const { gateway, client, pump, clock, recorder, bodies, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    client.send("lobby", "are you there?");
    await settle();
    // The gateway stores it but the connection dies before the reply gets out.
    gateway.mute = true;
    gateway.serve(recorder.latest);
    gateway.mute = false;
    const firstTry = gateway.sendsSeen[0]!;
    recorder.latest.drop(CloseCode.abnormal);
    await settle();
    expect(room("lobby").pending.map((p) => p.state)).toEqual(["queued"]);
    await clock.advance(1000);
    await pump();
    expect(gateway.sendsSeen.map((c) => c.client_msg_id)).toEqual([firstTry.client_msg_id, firstTry.client_msg_id]);
    expect(gateway.rooms.get("lobby")).toHaveLength(1);
    expect(bodies("lobby")).toEqual(["are you there?"]);
    expect(room("lobby").pending).toEqual([]);
  });

  it("edits, reacts to and deletes a message through the outbox, each once however often resent", async () => {
    const { gateway, client, pump, clock, recorder, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    client.send("lobby", "helo");
    await pump();
    const sent = room("lobby").timeline.messages[0]!;
    client.edit("lobby", sent.id, "hello");
    await pump();
    expect(room("lobby").timeline.messages[0]).toMatchObject({ body: "hello", edited_at: expect.any(String) });
    // The reaction is stored but the connection dies before its reply: it goes out again, the same.
    client.react("lobby", sent.id, "👍");
    await settle();
    gateway.mute = true;
    gateway.serve(recorder.latest);
    gateway.mute = false;
    recorder.latest.drop(CloseCode.abnormal);
    await clock.advance(1000);
    await pump();
    const reacts = gateway.sendsSeen.filter((c) => c.type === "react");
    expect(reacts).toHaveLength(2);
    expect(reacts[1]!.client_msg_id).toBe(reacts[0]!.client_msg_id);
    expect(gateway.rooms.get("lobby")!.filter((e) => e.kind === "reaction")).toHaveLength(1);
    expect(room("lobby").timeline.messages[0]!.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect(room("lobby").pending).toEqual([]);
    client.deleteMessage("lobby", sent.id);
    await pump();
    expect(room("lobby").timeline.messages).toHaveLength(1);
    expect(room("lobby").timeline.messages[0]).toMatchObject({ deleted: true });
    expect(room("lobby").timeline.messages[0]!.body).toBeUndefined();
  });

  it("keeps a refused edit under its message with the gateway's reason until dismissed", async () => {
    const { gateway, client, pump, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    const theirs = gateway.post("lobby", "mine, not yours", BOB);
    await pump();
    gateway.failActions = { code: "forbidden", message: "only the author may edit a message" };
    client.edit("lobby", theirs.id, "yours now");
    await pump();
    const [refused] = room("lobby").pending;
    expect(refused).toMatchObject({
      action: "edit",
      target: theirs.id,
      state: "failed",
      error: "Could not edit this message: only the author may edit a message",
    });
    expect(room("lobby").timeline.messages[0]!.body).toBe("mine, not yours");
    client.discard("lobby", refused!.clientMsgId);
    expect(room("lobby").pending).toEqual([]);
  });

  it("sends an answer with the id of the message it answers, and shows the quote", async () => {
    const { gateway, client, pump, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    const question = gateway.post("lobby", "lunch?", BOB);
    await pump();
    client.send("lobby", "yes", { id: question.id, user: BOB, excerpt: "lunch?" });
    await pump();
    expect(gateway.sendsSeen.at(-1)).toMatchObject({ type: "send", body: "yes", reply_to: question.id });
    expect(room("lobby").timeline.messages[1]!.reply_to).toEqual({ id: question.id, user: BOB, excerpt: "lunch?" });
  });

  it("counts an edit or reaction by someone else as no news", async () => {
    const { gateway, client, pump, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    client.send("lobby", "hi");
    await pump();
    const sent = room0(gateway);
    client.openRoom("other");
    await pump();
    gateway.postEvent("lobby", { type: "react", message_id: sent.id, emoji: "🎉", client_msg_id: "b-1" }, BOB);
    await pump();
    expect(room("lobby").timeline.messages[0]!.reactions).toEqual([{ emoji: "🎉", count: 1, me: false }]);
    expect(room("lobby").unread).toBe(0);
  });

  it("sends while offline once the room is joined again, in the order typed", async () => {
    const { client, pump, clock, recorder, bodies } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    recorder.latest.drop(CloseCode.abnormal);
    await settle();
    client.send("lobby", "one");
    client.send("lobby", "two");
    await clock.advance(1000);
    await pump();
    expect(bodies("lobby")).toEqual(["one", "two"]);
  });

  it("retries an unavailable service by itself, then lets the person retry", async () => {
    const { gateway, client, pump, clock, room, bodies } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    gateway.failSends = "unavailable";
    client.send("lobby", "hi");
    await pump();
    expect(room("lobby").pending[0]).toMatchObject({ state: "queued", attempts: 1 });
    for (const wait of [1000, 2000, 4000, 8000]) {
      await clock.advance(wait);
      await pump();
    }
    const failed = room("lobby").pending[0]!;
    expect(failed.state).toBe("failed");
    expect(new Set(gateway.sendsSeen.map((c) => c.client_msg_id))).toEqual(new Set([failed.clientMsgId]));
    gateway.failSends = null;
    client.retry("lobby", failed.clientMsgId);
    await pump();
    expect(bodies("lobby")).toEqual(["hi"]);
  });

  it("counts unread messages in rooms not in view, and the next visit starts at the server's read mark", async () => {
    const first = setup();
    first.client.start();
    await first.pump();
    first.client.openRoom("lobby");
    first.client.openRoom("random");
    await first.pump();
    first.gateway.post("lobby", "one", BOB);
    first.gateway.post("lobby", "two", BOB);
    await first.pump();
    expect(first.room("lobby").unread).toBe(2);
    expect(first.room("random").unread).toBe(0);
    first.client.openRoom("lobby");
    expect(first.room("lobby").unread).toBe(0);
    first.client.openRoom("random");
    first.gateway.post("lobby", "three", BOB);
    await first.pump();
    first.client.stop();

    // The next visit, on a device that remembers nothing, starts where this one ended: rooms
    // kept, "three" still unread.
    const second = setup({ storage: new MemoryStore(), gateway: first.gateway, clock: first.clock });
    second.client.start();
    await second.pump();
    expect(second.recorder.latest.sent.find((c) => c.type === "join" && c.room === "lobby")).toMatchObject({ since: 2 });
    expect(second.room("lobby").unread).toBe(1);
  });

  it("does not count while the page is hidden as read", async () => {
    const { gateway, client, pump, room, visible } = setup({ visible: false });
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    gateway.post("lobby", "while hidden", BOB);
    await pump();
    expect(room("lobby").unread).toBe(1);
    visible.value = true;
    client.visibilityChanged();
    expect(room("lobby").unread).toBe(0);
  });

  it("shows who is online and who types, and forgets a typist after a pause", async () => {
    const { recorder, client, pump, clock, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    recorder.latest.push({ type: "presence", room: "lobby", user: BOB, state: "online" });
    expect(room("lobby").online.map((u) => u.name)).toEqual(["ann", "bob"]);
    recorder.latest.push({ type: "typing", room: "lobby", user: BOB });
    expect(room("lobby").typing).toEqual([BOB]);
    await clock.advance(3500);
    expect(room("lobby").typing).toEqual([]);
    recorder.latest.push({ type: "presence", room: "lobby", user: BOB, state: "offline" });
    expect(room("lobby").online.map((u) => u.name)).toEqual(["ann"]);
  });

  it("tells others about typing at most every two and a half seconds", async () => {
    const { recorder, client, pump, clock } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    const typings = (): number => recorder.latest.sent.filter((c) => c.type === "typing").length;
    client.typing("lobby");
    client.typing("lobby");
    await clock.advance(2499);
    client.typing("lobby");
    expect(typings()).toBe(1);
    await clock.advance(1);
    expect(typings()).toBe(2); // the keystrokes inside the window, announced when it ended
    client.typing("lobby");
    expect(typings()).toBe(2);
  });

  it("announces a short burst of typing that came too soon after the last one", async () => {
    const { recorder, client, pump, clock } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    const typings = (): number => recorder.latest.sent.filter((c) => c.type === "typing").length;
    client.typing("lobby");
    await clock.advance(500);
    client.typing("lobby"); // a few keys, then nothing more
    expect(typings()).toBe(1);
    await clock.advance(2000);
    expect(typings()).toBe(2);
    await clock.advance(10_000);
    expect(typings()).toBe(2);
  });

  it("sends no late typing after the message went out", async () => {
    const { recorder, client, pump, clock } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    client.typing("lobby");
    await clock.advance(500);
    client.typing("lobby");
    client.send("lobby", "done typing");
    await clock.advance(5000);
    await pump();
    expect(recorder.latest.sent.filter((c) => c.type === "typing")).toHaveLength(1);
  });

  it("starts a DM in the room named by both ids and titles it with the other's name", async () => {
    const { client, pump, room, recorder } = setup();
    client.start();
    await pump();
    client.startDm(BOB);
    await pump();
    const id = "dm:u-ann:u-bob";
    expect(client.stores.navigation.get().activeRoom).toBe(id);
    expect(room(id)).toMatchObject({ kind: "dm", title: "bob", joined: true });
    expect(recorder.latest.last("join")).toMatchObject({ room: id, since: 0 });
  });

  it("adds the private rooms and DMs the server lists and joins them; public rooms to join stay in the directory", async () => {
    const { client, pump, room, serverRooms, gateway } = setup();
    gateway.addToRoom("team", "private");
    gateway.addToRoom("dm:u-ann:u-bob", "dm");
    serverRooms.push({ id: "lobby", name: "lobby", kind: "public", read_only: false, last_seq: 9 });
    client.start();
    await pump();
    expect(room("team")).toMatchObject({ kept: true, joined: true, kind: "private" });
    expect(room("dm:u-ann:u-bob")).toMatchObject({ kept: true, kind: "dm" });
    expect(client.stores.rooms.get().lobby).toBeUndefined();
    expect(client.stores.directory.get().rooms.map((r) => r.id)).toEqual(["lobby"]);
  });

  it("leaves a room it was removed from and says so", async () => {
    const { recorder, client, pump, room } = setup();
    client.start();
    await pump();
    client.openRoom("lobby");
    await pump();
    recorder.latest.push({ type: "kicked", room: "lobby", reason: "spam" });
    expect(room("lobby")).toMatchObject({ kept: false, joined: false });
    expect(client.stores.session.get().notice).toMatch(/removed from lobby: spam/);
  });
});

function room0(gateway: { rooms: Map<string, ChatMessage[]> }): ChatMessage {
  return gateway.rooms.get("lobby")![0]!;
}
