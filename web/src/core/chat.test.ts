import { describe, expect, it } from "vitest";

import type { RoomInfo } from "./api";
import { ChatStore, PAGE_SIZE, countUnread } from "./chat";
import { ChatConnection } from "./connection";
import { MemoryStore, Prefs } from "./prefs";
import { CloseCode, type HistoryPage, type UserRef } from "./protocol";
import { FakeClock, FakeGateway, SocketRecorder, settle, type FakeSocket } from "../test/fakes";

const ANN: UserRef = { id: "u-ann", name: "ann" };
const BOB: UserRef = { id: "u-bob", name: "bob" };

function setup(options: { storage?: MemoryStore; visible?: boolean; clock?: FakeClock; gateway?: FakeGateway } = {}) {
  const clock = options.clock ?? new FakeClock();
  const recorder = new SocketRecorder();
  const gateway = options.gateway ?? new FakeGateway(clock, ANN);
  const storage = options.storage ?? new MemoryStore();
  const serverRooms: RoomInfo[] = [];
  let ids = 0;
  const visible = { value: options.visible ?? true };
  const store = new ChatStore(ANN, {
    connect: (handlers) =>
      new ChatConnection({
        url: "wss://chat.test/ws",
        openSocket: recorder.open,
        clock,
        random: () => 0.5,
        accessToken: async () => "token",
        ...handlers,
      }),
    api: {
      listRooms: async () => serverRooms,
      createRoom: async (name, kind) => ({ id: name, name, kind, read_only: false, last_seq: 0 }),
      addMember: async () => undefined,
      messages: async (room, before, limit): Promise<HistoryPage> => {
        const older = (gateway.rooms.get(room) ?? []).filter((m) => m.seq < (before ?? Infinity));
        return { messages: older.slice(-limit), has_more: older.length > limit };
      },
    },
    prefs: new Prefs(storage, ANN.id),
    clock,
    newId: () => `c-${++ids}`,
    isVisible: () => visible.value,
  });
  const opened = new Set<FakeSocket>();
  /** Plays the gateway until the client has nothing more to say. */
  const pump = async (): Promise<void> => {
    let quiet = 0;
    while (quiet < 2) {
      await settle();
      const socket = recorder.sockets[recorder.sockets.length - 1];
      if (socket === undefined || socket.closed !== null) return;
      const before = socket.sent.length;
      if (!opened.has(socket)) {
        opened.add(socket);
        socket.open();
      }
      gateway.serve(socket);
      await settle();
      quiet = socket.sent.length === before ? quiet + 1 : 0;
    }
  };
  const room = (id: string) => {
    const found = store.getSnapshot().rooms[id];
    if (found === undefined) throw new Error(`no room ${id}`);
    return found;
  };
  const bodies = (id: string) => room(id).timeline.messages.map((m) => m.body);
  return { clock, recorder, gateway, store, storage, serverRooms, pump, room, bodies, visible };
}

describe("ChatStore", () => {
  it("opens a room at its newest page and pages back to the start", async () => {
    const { gateway, store, pump, room, bodies } = setup();
    for (let i = 1; i <= 120; i++) gateway.store("lobby", `m${i}`, BOB, `b${i}`);
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    expect(room("lobby").joined).toBe(true);
    expect(bodies("lobby")).toHaveLength(PAGE_SIZE);
    expect(bodies("lobby").at(-1)).toBe("m120");
    void store.loadOlder("lobby");
    await pump();
    void store.loadOlder("lobby");
    await pump();
    expect(bodies("lobby")).toEqual(Array.from({ length: 120 }, (_, i) => `m${i + 1}`));
    expect(room("lobby").timeline.hasMoreBefore).toBe(false);
  });

  it("shows a sent message once: pending, then acknowledged, whatever arrives first", async () => {
    const { gateway, store, pump, room, bodies } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    gateway.answering = false;
    store.send("lobby", "hello");
    await settle();
    expect(room("lobby").pending.map((p) => [p.body, p.state])).toEqual([["hello", "sending"]]);
    gateway.answering = true;
    await pump(); // the gateway pushes the message event, then the reply with the same message
    expect(room("lobby").pending).toEqual([]);
    expect(bodies("lobby")).toEqual(["hello"]);
  });

  it("catches up after a reconnect: every missed message once, in seq order", async () => {
    const { gateway, store, pump, clock, recorder, bodies, room } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    gateway.post("lobby", "before", BOB);
    await pump();
    recorder.latest.drop(CloseCode.abnormal);
    await settle();
    expect(store.getSnapshot().connection.phase).toBe("reconnecting");
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
    const { gateway, store, pump, clock, recorder, bodies, room } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
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
    const { gateway, store, pump, clock, recorder, bodies, room } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    store.send("lobby", "are you there?");
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

  it("sends while offline once the room is joined again, in the order typed", async () => {
    const { store, pump, clock, recorder, bodies } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    recorder.latest.drop(CloseCode.abnormal);
    await settle();
    store.send("lobby", "one");
    store.send("lobby", "two");
    await clock.advance(1000);
    await pump();
    expect(bodies("lobby")).toEqual(["one", "two"]);
  });

  it("retries an unavailable service by itself, then lets the person retry", async () => {
    const { gateway, store, pump, clock, room, bodies } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    gateway.failSends = "unavailable";
    store.send("lobby", "hi");
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
    store.retry("lobby", failed.clientMsgId);
    await pump();
    expect(bodies("lobby")).toEqual(["hi"]);
  });

  it("counts unread messages in rooms not in view and remembers what was read", async () => {
    const storage = new MemoryStore();
    const first = setup({ storage });
    first.store.start();
    await first.pump();
    first.store.openRoom("lobby");
    first.store.openRoom("random");
    await first.pump();
    first.gateway.post("lobby", "one", BOB);
    first.gateway.post("lobby", "two", BOB);
    await first.pump();
    expect(first.room("lobby").unread).toBe(2);
    expect(first.room("random").unread).toBe(0);
    first.store.openRoom("lobby");
    expect(first.room("lobby").unread).toBe(0);
    first.store.openRoom("random");
    first.gateway.post("lobby", "three", BOB);
    await first.pump();
    first.store.stop();

    // The next visit starts where this one ended: rooms kept, "three" still unread.
    const second = setup({ storage, gateway: first.gateway, clock: first.clock });
    second.store.start();
    await second.pump();
    expect(second.recorder.latest.sent.find((c) => c.type === "join" && c.room === "lobby")).toMatchObject({ since: 2 });
    expect(second.room("lobby").unread).toBe(1);
  });

  it("does not count while the page is hidden as read", async () => {
    const { gateway, store, pump, room, visible } = setup({ visible: false });
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    gateway.post("lobby", "while hidden", BOB);
    await pump();
    expect(room("lobby").unread).toBe(1);
    visible.value = true;
    store.visibilityChanged();
    expect(room("lobby").unread).toBe(0);
  });

  it("shows who is online and who types, and forgets a typist after a pause", async () => {
    const { recorder, store, pump, clock, room } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
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
    const { recorder, store, pump, clock } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    const typings = (): number => recorder.latest.sent.filter((c) => c.type === "typing").length;
    store.typing("lobby");
    store.typing("lobby");
    await clock.advance(2499);
    store.typing("lobby");
    expect(typings()).toBe(1);
    await clock.advance(1);
    expect(typings()).toBe(2); // the keystrokes inside the window, announced when it ended
    store.typing("lobby");
    expect(typings()).toBe(2);
  });

  it("announces a short burst of typing that came too soon after the last one", async () => {
    const { recorder, store, pump, clock } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    const typings = (): number => recorder.latest.sent.filter((c) => c.type === "typing").length;
    store.typing("lobby");
    await clock.advance(500);
    store.typing("lobby"); // a few keys, then nothing more
    expect(typings()).toBe(1);
    await clock.advance(2000);
    expect(typings()).toBe(2);
    await clock.advance(10_000);
    expect(typings()).toBe(2);
  });

  it("sends no late typing after the message went out", async () => {
    const { recorder, store, pump, clock } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    store.typing("lobby");
    await clock.advance(500);
    store.typing("lobby");
    store.send("lobby", "done typing");
    await clock.advance(5000);
    await pump();
    expect(recorder.latest.sent.filter((c) => c.type === "typing")).toHaveLength(1);
  });

  it("starts a DM in the room named by both ids and titles it with the other's name", async () => {
    const { store, pump, room, recorder } = setup();
    store.start();
    await pump();
    store.startDm(BOB);
    await pump();
    const id = "dm:u-ann:u-bob";
    expect(store.getSnapshot().activeRoom).toBe(id);
    expect(room(id)).toMatchObject({ kind: "dm", title: "bob", joined: true });
    expect(recorder.latest.last("join")).toMatchObject({ room: id, since: 0 });
  });

  it("adds private rooms and DMs listed by the server and joins them", async () => {
    const { store, pump, room, serverRooms } = setup();
    serverRooms.push(
      { id: "team", name: "team", kind: "private", read_only: false, last_seq: 0 },
      { id: "dm:u-ann:u-bob", name: "dm:u-ann:u-bob", kind: "dm", read_only: false, last_seq: 3 },
      { id: "lobby", name: "lobby", kind: "public", read_only: false, last_seq: 9 },
    );
    store.start();
    await pump();
    expect(room("team")).toMatchObject({ kept: true, joined: true });
    expect(room("dm:u-ann:u-bob")).toMatchObject({ kept: true, title: "Direct message" });
    expect(room("lobby")).toMatchObject({ kept: false, joined: false });
  });

  it("leaves a room it was removed from and says so", async () => {
    const { recorder, store, pump, room } = setup();
    store.start();
    await pump();
    store.openRoom("lobby");
    await pump();
    recorder.latest.push({ type: "kicked", room: "lobby", reason: "spam" });
    expect(room("lobby")).toMatchObject({ kept: false, joined: false });
    expect(store.getSnapshot().notice).toMatch(/removed from lobby: spam/);
  });
});

describe("countUnread", () => {
  it("counts only others' messages after the read mark", () => {
    const messages = [1, 2, 3, 4].map((seq) => ({
      id: `m${seq}`,
      room: "r",
      seq,
      user: seq === 3 ? ANN : BOB,
      body: "",
      ts: "",
      client_msg_id: "",
    }));
    expect(countUnread({ messages, lastSeq: 4, hasMoreBefore: false }, 1, ANN.id)).toBe(2);
  });
});
