// The state that follows the person across devices: the room list from the server and its
// events, read marks sent and received, mentions and alerts, against the in-memory gateway.

import { describe, expect, it, vi } from "vitest";

import { ROOM_LIST_RETRY_MS } from "./chat";
import { MemoryStore } from "./prefs";
import { CloseCode } from "./protocol";
import { READ_THROTTLE_MS } from "./readMarker";
import { settle } from "../test/fakes";
import { ANN, BOB, startChat as setup, type Chat } from "../test/harness";

async function signedIn(options: Parameters<typeof setup>[0] = {}): Promise<Chat> {
  const chat = setup(options);
  chat.client.start();
  await chat.pump();
  return chat;
}

/** A second device of the same person, on the same gateway and clock. */
function otherDevice(chat: Chat, options: Parameters<typeof setup>[0] = {}): Promise<Chat> {
  return signedIn({ gateway: chat.gateway, clock: chat.clock, ...options });
}

function reads(chat: Chat): { room: unknown; seq: unknown }[] {
  return chat.recorder.sockets.flatMap((s) => s.sent.filter((c) => c.type === "read").map(({ room, seq }) => ({ room, seq })));
}

describe("the person's rooms", () => {
  it("come from the server on a device that remembers nothing, joined from the server's read marks", async () => {
    const first = await signedIn();
    first.gateway.addToRoom("team", "private", "owner", "Launch plans");
    for (let i = 1; i <= 5; i++) first.gateway.store("team", `t${i}`, BOB, `t${i}`);
    first.gateway.markRead("team", 3);
    const storage = new MemoryStore();
    const second = await otherDevice(first, { storage });
    expect(second.room("team")).toMatchObject({ kept: true, joined: true, topic: "Launch plans", role: "owner" });
    expect(second.recorder.latest.last("join")).toMatchObject({ room: "team", since: 3 });
    expect(second.room("team")).toMatchObject({ unread: 2, lastRead: 3 });
    // Nothing about rooms or read marks is kept on the device.
    expect(storage.getItem(`chat:${ANN.id}:rooms`)).toBeNull();
    expect(storage.getItem(`chat:${ANN.id}:read`)).toBeNull();
  });

  it("drops what earlier versions kept on the device", async () => {
    const storage = new MemoryStore();
    storage.setItem(`chat:${ANN.id}:rooms`, JSON.stringify([{ id: "stale", kind: "public" }]));
    storage.setItem(`chat:${ANN.id}:read`, JSON.stringify({ stale: 4 }));
    const chat = await signedIn({ storage });
    expect(chat.client.stores.rooms.get().stale).toBeUndefined();
    expect(storage.getItem(`chat:${ANN.id}:rooms`)).toBeNull();
    expect(storage.getItem(`chat:${ANN.id}:read`)).toBeNull();
  });

  it("is not polled: asked once per connect, again after a reconnect", async () => {
    const chat = setup();
    const asked = vi.spyOn(chat.gateway, "myRooms");
    chat.client.start();
    await chat.pump();
    await chat.clock.advance(120_000);
    expect(asked).toHaveBeenCalledTimes(1);
    chat.recorder.latest.drop(CloseCode.abnormal);
    await chat.clock.advance(1000);
    await chat.pump();
    expect(asked).toHaveBeenCalledTimes(2);
  });

  it("asks again shortly when the list could not be fetched", async () => {
    const chat = setup();
    const asked = vi.spyOn(chat.gateway, "myRooms").mockImplementationOnce(() => {
      throw new Error("unavailable");
    });
    chat.gateway.addToRoom("team", "private");
    chat.client.start();
    await chat.pump();
    expect(chat.client.stores.rooms.get().team).toBeUndefined();
    await chat.clock.advance(ROOM_LIST_RETRY_MS);
    await chat.pump();
    expect(asked).toHaveBeenCalledTimes(2);
    expect(chat.room("team")).toMatchObject({ kept: true, joined: true });
  });

  it("matches the server after a reconnect: a room left elsewhere goes, one joined elsewhere comes", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    chat.client.openRoom("random");
    await chat.pump();
    chat.gateway.mute = true; // the connection is dying: the events of the meantime are lost
    chat.gateway.removeFromRoom("random");
    chat.gateway.addToRoom("team", "private");
    chat.gateway.mute = false;
    chat.recorder.latest.drop(CloseCode.abnormal);
    await chat.clock.advance(1000);
    await chat.pump();
    expect(chat.room("random")).toMatchObject({ kept: false, joined: false });
    expect(chat.room("team")).toMatchObject({ kept: true, joined: true });
    // The room left elsewhere is not joined again (a join would make it a member once more).
    expect(chat.recorder.latest.sent.filter((c) => c.type === "join").map((c) => c.room).sort()).toEqual(["lobby", "team"]);
    expect(chat.gateway.memberships.has("random")).toBe(false);
  });

  it("follows rooms events at once: a DM started by someone else appears and is joined, a room left elsewhere goes", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    await chat.pump();
    chat.gateway.store("dm:u-ann:u-bob", "hi ann", BOB, "d1");
    chat.gateway.addToRoom("dm:u-ann:u-bob", "dm");
    await chat.pump();
    expect(chat.room("dm:u-ann:u-bob")).toMatchObject({ kept: true, joined: true, unread: 1 });
    chat.gateway.removeFromRoom("lobby");
    await settle();
    expect(chat.room("lobby")).toMatchObject({ kept: false, joined: false, unread: 0 });
  });

  it("joins a public room from the directory with the socket's join, which the server records; leaves with leave", async () => {
    const chat = await signedIn();
    chat.serverRooms.push({ id: "garden", name: "garden", kind: "public", read_only: false, last_seq: 0 });
    chat.client.openRoom("garden");
    await chat.pump();
    expect(chat.recorder.latest.last("join")).toMatchObject({ room: "garden" });
    expect(chat.gateway.memberships.get("garden")?.kind).toBe("public");
    const phone = await otherDevice(chat);
    expect(phone.room("garden")).toMatchObject({ kept: true });
    chat.client.leaveRoom("garden");
    await chat.pump();
    expect(chat.recorder.latest.last("leave")).toMatchObject({ room: "garden" });
    expect(chat.gateway.memberships.has("garden")).toBe(false);
    expect(phone.room("garden")).toMatchObject({ kept: false });
  });

  it("leaves over HTTP while the socket is down", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    await chat.pump();
    chat.recorder.latest.drop(CloseCode.abnormal);
    await settle();
    chat.client.leaveRoom("lobby");
    await settle();
    expect(chat.gateway.memberships.has("lobby")).toBe(false);
  });
});

describe("read marks", () => {
  it("go out when the newest messages of the open room are in view, forward only and at most every half second", async () => {
    const chat = await signedIn();
    for (let i = 1; i <= 3; i++) chat.gateway.store("lobby", `m${i}`, BOB, `m${i}`);
    chat.client.openRoom("lobby");
    await chat.pump();
    expect(reads(chat)).toEqual([{ room: "lobby", seq: 3 }]);
    chat.gateway.post("lobby", "four", BOB);
    chat.gateway.post("lobby", "five", BOB);
    await chat.pump();
    expect(reads(chat)).toHaveLength(1); // folded into one, due half a second after the last
    await chat.clock.advance(READ_THROTTLE_MS);
    await chat.pump();
    expect(reads(chat)).toEqual([
      { room: "lobby", seq: 3 },
      { room: "lobby", seq: 5 },
    ]);
    chat.client.openRoom("lobby"); // nothing new: nothing sent
    await chat.clock.advance(READ_THROTTLE_MS);
    await chat.pump();
    expect(reads(chat)).toHaveLength(2);
  });

  it("wait while the list is scrolled up or the page is hidden", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    await chat.pump();
    chat.client.viewing("lobby", false);
    chat.gateway.post("lobby", "one", BOB);
    await chat.pump();
    await chat.clock.advance(READ_THROTTLE_MS);
    expect(reads(chat)).toEqual([]);
    expect(chat.room("lobby").unread).toBe(1);
    chat.client.viewing("lobby", true);
    await chat.pump();
    expect(reads(chat)).toEqual([{ room: "lobby", seq: 1 }]);
    expect(chat.room("lobby").unread).toBe(0);

    chat.visible.value = false;
    chat.gateway.post("lobby", "two", BOB);
    await chat.clock.advance(READ_THROTTLE_MS);
    await chat.pump();
    expect(reads(chat)).toHaveLength(1);
    chat.visible.value = true;
    chat.client.visibilityChanged();
    await chat.pump();
    expect(reads(chat).at(-1)).toEqual({ room: "lobby", seq: 2 });
  });

  it("read on another device clear this device's badge without a delay", async () => {
    const laptop = await signedIn();
    laptop.client.openRoom("lobby");
    laptop.client.openRoom("random");
    await laptop.pump();
    laptop.gateway.post("lobby", "one", BOB);
    laptop.gateway.post("lobby", "two", { id: "u-cara", name: "cara" });
    await laptop.pump();
    expect(laptop.room("lobby").unread).toBe(2);
    const phone = await otherDevice(laptop);
    phone.client.openRoom("lobby");
    await phone.pump();
    // No time passes on the clock: the phone's read goes out at once and its event clears the badge.
    await settle();
    expect(laptop.room("lobby")).toMatchObject({ unread: 0, lastRead: 2 });
    // The laptop does not echo the mark back.
    expect(reads(laptop)).toEqual([]);
  });

  it("count no message of one's own as unread, from whichever device it was written", async () => {
    const laptop = await signedIn();
    laptop.client.openRoom("lobby");
    laptop.client.openRoom("random");
    await laptop.pump();
    laptop.gateway.post("lobby", "one", BOB);
    await laptop.pump();
    const phone = await otherDevice(laptop);
    phone.visible.value = false; // the phone writes without reading: in the pocket
    phone.client.openRoom("lobby");
    await phone.pump();
    phone.client.send("lobby", "on my way");
    await phone.pump();
    await laptop.pump();
    expect(laptop.room("lobby").unread).toBe(0);
    expect(laptop.gateway.myRooms().find((r) => r.id === "lobby")).toMatchObject({ unread: 0 });
  });

  it("go out after the next connect when the connection was down", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    chat.client.openRoom("random");
    await chat.pump();
    chat.gateway.post("lobby", "one", BOB);
    await chat.pump();
    chat.recorder.latest.drop(CloseCode.abnormal);
    await settle();
    chat.client.openRoom("lobby"); // read while offline
    await chat.clock.advance(1000);
    await chat.pump();
    expect(chat.gateway.readMarks.get("lobby")).toBe(1);
  });
});

describe("mentions and alerts", () => {
  it("count a mention in a room not in view, and alert for it and for a DM only while the page is hidden", async () => {
    const chat = await signedIn({ visible: false });
    chat.client.openRoom("lobby");
    chat.client.startDm(BOB);
    await chat.pump();
    chat.gateway.post("lobby", "lunch anyone?", BOB);
    chat.gateway.post("lobby", "@ann are you in?", BOB);
    chat.gateway.post("dm:u-ann:u-bob", "psst", BOB);
    await chat.pump();
    expect(chat.room("lobby")).toMatchObject({ unread: 2, mentions: 1 });
    expect(chat.alerts.map((a) => [a.title, a.body])).toEqual([
      ["bob in #lobby", "@ann are you in?"],
      ["bob", "psst"],
    ]);
    chat.visible.value = true;
    chat.gateway.post("dm:u-ann:u-bob", "still there?", BOB);
    await chat.pump();
    expect(chat.alerts).toHaveLength(2);
  });

  it("take a mention event for a room this connection has not joined", async () => {
    const chat = await signedIn({ visible: false });
    chat.gateway.addToRoom("team", "private");
    await chat.pump();
    chat.gateway.members.get("team")?.clear(); // as between a connect and the join of the room
    chat.gateway.post("team", "@ann the release", BOB);
    await settle();
    expect(chat.room("team")).toMatchObject({ unread: 1, mentions: 1 });
    expect(chat.alerts.map((a) => a.room)).toEqual(["team"]);
  });
});

describe("the new messages line", () => {
  it("goes at the read mark of a room opened with messages waiting, and stays while the room is open", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    chat.client.openRoom("random");
    await chat.pump();
    chat.gateway.post("lobby", "one", BOB);
    chat.gateway.post("lobby", "two", BOB);
    await chat.pump();
    chat.client.openRoom("lobby");
    expect(chat.client.stores.navigation.get()).toMatchObject({ activeRoom: "lobby", newSince: 0 });
    expect(chat.room("lobby").unread).toBe(0);
    chat.gateway.post("lobby", "three", BOB);
    await chat.pump();
    expect(chat.client.stores.navigation.get().newSince).toBe(0);
    chat.client.openRoom("random");
    expect(chat.client.stores.navigation.get().newSince).toBeNull();
    chat.client.openRoom("lobby");
    expect(chat.client.stores.navigation.get().newSince).toBeNull(); // nothing was waiting
  });
});

describe("the new messages line after a reload", () => {
  it("goes at the server's read mark of the room the URL opened, once the room list says what waits", async () => {
    const first = await signedIn();
    first.gateway.addToRoom("team", "private");
    for (let i = 1; i <= 4; i++) first.gateway.store("team", `t${i}`, BOB, `t${i}`);
    first.gateway.markRead("team", 1);
    const reloaded = setup({ gateway: first.gateway, clock: first.clock });
    reloaded.client.openRoom("team"); // from the URL, before the first connect
    reloaded.client.start();
    await reloaded.pump();
    expect(reloaded.client.stores.navigation.get()).toMatchObject({ activeRoom: "team", newSince: 1 });
    expect(reloaded.room("team").unread).toBe(0);
  });

  it("is not drawn for messages that arrive while the person watches", async () => {
    const chat = await signedIn();
    chat.client.openRoom("lobby");
    await chat.pump();
    chat.gateway.post("lobby", "live", BOB);
    await chat.pump();
    expect(chat.client.stores.navigation.get().newSince).toBeNull();
  });
});

describe("people and members", () => {
  it("finds people by the start of their name once the person pauses, and starts a DM with one", async () => {
    const chat = await signedIn();
    chat.gateway.people.push({ id: "u-cara", name: "cara" }, { id: "u-carl", name: "carl" });
    chat.client.findPeople("c");
    chat.client.findPeople("ca");
    chat.client.findPeople("car");
    await chat.clock.advance(250);
    expect(chat.peopleAsked).toEqual(["car"]);
    expect(chat.client.stores.peopleSearch.get().people.map((p) => p.name)).toEqual(["cara", "carl"]);
    chat.client.startDm({ id: "u-cara", name: "cara" });
    await chat.pump();
    expect(chat.room("dm:u-ann:u-cara")).toMatchObject({ title: "cara", kept: true, joined: true });
  });

  it("loads a room's members with their roles, and names DM partners a new device has not met", async () => {
    const chat = await signedIn();
    chat.gateway.addToRoom("dm:u-ann:u-dora", "dm");
    chat.gateway.roomPeople.set("dm:u-ann:u-dora", [{ user: { id: "u-dora", name: "dora" }, role: "member" }]);
    chat.gateway.roomPeople.set("team", [{ user: BOB, role: "moderator" }]);
    chat.gateway.addToRoom("team", "private", "owner");
    chat.gateway.onlineIds.add(BOB.id);
    const phone = await otherDevice(chat, { storage: new MemoryStore() });
    await phone.pump();
    expect(phone.room("dm:u-ann:u-dora").title).toBe("dora");
    await phone.client.loadMembers("team");
    expect(phone.client.stores.members.get().team?.members.map((m) => [m.name, m.role, m.online])).toEqual([
      ["ann", "owner", true],
      ["bob", "moderator", true],
    ]);
  });
});
