import { describe, expect, it } from "vitest";

import { ChatDispatcher } from "./dispatcher";
import { newPending } from "./outbox";
import { MemoryStore, Prefs } from "./prefs";
import type { ChatMessage, UserRef } from "./protocol";
import { createStores, type ChatStores } from "./stores";
import { roomMessages } from "./stores/messages";
import { opened, scrolled } from "./stores/navigation";
import { pendingIn } from "./stores/pending";
import { onlineIn } from "./stores/presence";
import { changed, known } from "./stores/rooms";
import { typistsIn } from "./stores/typing";
import { unreadIn } from "./stores/unread";

const ANN: UserRef = { id: "u-ann", name: "ann" };
const BOB: UserRef = { id: "u-bob", name: "bob" };

function message(seq: number, user: UserRef = BOB, room = "lobby"): ChatMessage {
  return { id: `m${seq}`, room, seq, user, body: `m${seq}`, ts: "2025-03-14T12:00:00.000Z", client_msg_id: `c${seq}` };
}

function setup(options: { visible?: boolean } = {}) {
  const stores = createStores(ANN, new Prefs(new MemoryStore(), ANN.id));
  for (const room of ["lobby", "random"]) {
    stores.rooms.update((s) => changed(known(s, room, "public"), room, { kept: true, joined: true }));
  }
  const dispatcher = new ChatDispatcher(stores, { now: () => 1000, isVisible: () => options.visible ?? true });
  /** How often each store told its listeners of a change. */
  const heard: Record<string, number> = {};
  for (const [name, store] of Object.entries(stores)) {
    heard[name] = 0;
    (store as ChatStores[keyof ChatStores]).subscribe(() => heard[name]!++);
  }
  return { stores, dispatcher, heard };
}

describe("ChatDispatcher", () => {
  it("puts a typing event into the typing store and touches no other", () => {
    const { stores, dispatcher, heard } = setup();
    dispatcher.event({ type: "typing", room: "lobby", user: BOB });
    expect(typistsIn(stores.typing.get(), "lobby").map((t) => t.user)).toEqual([BOB]);
    expect(Object.entries(heard).filter(([, n]) => n > 0)).toEqual([["typing", 1]]);
  });

  it("folds a catch-up's events into its messages; one's own reaction neither reads nor counts", () => {
    const { stores, dispatcher } = setup();
    stores.navigation.update((s) => opened(s, "random"));
    stores.unread.update(() => ({ lobby: { unread: 0, mentions: 0, lastRead: 4, lastSeq: 4 } }));
    const reaction: ChatMessage = {
      ...message(6, ANN),
      body: undefined,
      kind: "reaction",
      target: "m5",
      emoji: "👍",
      on: true,
    };
    dispatcher.joined("lobby", { room: "lobby", last_seq: 5, online: [], messages: [message(5), reaction], recovered: true }, 4);
    const held = roomMessages(stores.messages.get(), "lobby");
    expect(held.messages.map((m) => m.seq)).toEqual([5]);
    expect(held.messages[0]!.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    expect(held.lastSeq).toBe(6); // the next join resumes after the reaction
    expect(unreadIn(stores.unread.get(), "lobby")).toMatchObject({ unread: 1, lastRead: 4 });
  });

  it("ignores one's own typing and rooms it does not know", () => {
    const { dispatcher, heard } = setup();
    dispatcher.event({ type: "typing", room: "lobby", user: ANN });
    dispatcher.event({ type: "typing", room: "elsewhere", user: BOB });
    dispatcher.event({ type: "message", message: message(1, BOB, "elsewhere") });
    expect(Object.values(heard).every((n) => n === 0)).toBe(true);
  });

  it("files a message, ends its author's typing and counts it unread in a room not in view", () => {
    const { stores, dispatcher } = setup();
    stores.navigation.update((s) => opened(s, "random"));
    dispatcher.event({ type: "typing", room: "lobby", user: BOB });
    dispatcher.event({ type: "message", message: message(1) });
    dispatcher.event({ type: "message", message: message(1) }); // the same frame again
    expect(roomMessages(stores.messages.get(), "lobby").messages.map((m) => m.seq)).toEqual([1]);
    expect(typistsIn(stores.typing.get(), "lobby")).toEqual([]);
    expect(unreadIn(stores.unread.get(), "lobby")).toMatchObject({ unread: 1, lastRead: 0 });
  });

  it("counts what arrives in the room in view as read, unless the page is hidden", () => {
    const shown = setup();
    shown.stores.navigation.update((s) => opened(s, "lobby"));
    shown.dispatcher.event({ type: "message", message: message(1) });
    expect(unreadIn(shown.stores.unread.get(), "lobby")).toMatchObject({ unread: 0, lastRead: 1 });
    const hidden = setup({ visible: false });
    hidden.stores.navigation.update((s) => opened(s, "lobby"));
    hidden.dispatcher.event({ type: "message", message: message(1) });
    expect(unreadIn(hidden.stores.unread.get(), "lobby")).toMatchObject({ unread: 1, lastRead: 0 });
  });

  it("lets one's own message replace its pending entry, whether event or reply comes first", () => {
    const { stores, dispatcher } = setup();
    const own = { ...message(1, ANN), client_msg_id: "c-own" };
    stores.pending.update(() => ({ lobby: [newPending("lobby", own.body ?? "", "c-own", 0)] }));
    dispatcher.event({ type: "message", message: own });
    expect(pendingIn(stores.pending.get(), "lobby")).toEqual([]);
    dispatcher.acknowledged("lobby", "c-own", own);
    expect(roomMessages(stores.messages.get(), "lobby").messages).toEqual([own]);
    expect(unreadIn(stores.unread.get(), "lobby").unread).toBe(0);
  });

  it("joins a room: catch-up, who is online, and unread counted from the read mark", () => {
    const { stores, dispatcher } = setup();
    stores.unread.update(() => ({ lobby: { unread: 0, mentions: 0, lastRead: 1, lastSeq: 1 } }));
    const reply = { room: "lobby", last_seq: 3, online: [ANN, BOB], messages: [message(2), message(3)], recovered: true };
    expect(dispatcher.joined("lobby", reply, 1)).toEqual({ restarted: false });
    expect(roomMessages(stores.messages.get(), "lobby").lastSeq).toBe(3);
    expect(onlineIn(stores.presence.get(), "lobby")).toEqual([ANN, BOB]);
    expect(unreadIn(stores.unread.get(), "lobby")).toMatchObject({ unread: 2, lastRead: 1 });
    expect(stores.people.get()["u-bob"]).toBe("bob");
  });

  it("starts a room afresh when the catch-up could not cover the gap", () => {
    const { stores, dispatcher } = setup();
    stores.unread.update(() => ({ lobby: { unread: 0, mentions: 0, lastRead: 1, lastSeq: 1 } }));
    dispatcher.event({ type: "message", message: message(1) });
    const reply = { room: "lobby", last_seq: 2000, online: [], messages: [], recovered: false };
    expect(dispatcher.joined("lobby", reply, 1)).toEqual({ restarted: true });
    expect(roomMessages(stores.messages.get(), "lobby")).toMatchObject({ messages: [], lastSeq: 2000, epoch: 1 });
    expect(unreadIn(stores.unread.get(), "lobby").unread).toBe(1999);
    // A page asked for before the restart is stale.
    expect(dispatcher.pageArrived("lobby", { messages: [message(1)], has_more: false }, 0)).toBe(false);
  });

  it("starts a public room joined for the first time as read", () => {
    const { stores, dispatcher } = setup();
    const reply = { room: "lobby", last_seq: 40, online: [], messages: [], recovered: true };
    dispatcher.joined("lobby", reply, undefined);
    expect(unreadIn(stores.unread.get(), "lobby")).toMatchObject({ unread: 0, lastRead: 40 });
  });

  it("forgets who types when the connection is lost, and no room is joined", () => {
    const { stores, dispatcher } = setup();
    dispatcher.event({ type: "typing", room: "lobby", user: BOB });
    dispatcher.connectionChanged({ phase: "reconnecting", attempt: 0, retryAt: 0, reason: "closed" });
    expect(typistsIn(stores.typing.get(), "lobby")).toEqual([]);
    expect(Object.values(stores.rooms.get()).some((r) => r.joined)).toBe(false);
    expect(stores.session.get().connection.phase).toBe("reconnecting");
  });

  it("says so when the person was removed from a room", () => {
    const { stores, dispatcher } = setup();
    dispatcher.event({ type: "kicked", room: "lobby", reason: "spam" });
    expect(stores.rooms.get().lobby).toMatchObject({ kept: false, joined: false });
    expect(stores.session.get().notice).toBe("You were removed from lobby: spam");
  });

  it("keeps the person's rooms as the server lists them, with their marks, and forgets one the list lacks", () => {
    const { stores, dispatcher } = setup();
    const changes = dispatcher.ownRoomsListed([
      { id: "team", kind: "private", read_only: false, last_seq: 5, read_seq: 2, unread: 3, mentions: 1 },
      { id: "lobby", kind: "public", read_only: true, last_seq: 9, read_seq: 9, unread: 0, mentions: 0 },
    ]);
    expect(changes).toEqual({ added: ["team"], removed: ["random"] });
    expect(stores.rooms.get().team).toMatchObject({ kept: true, kind: "private" });
    expect(stores.rooms.get().lobby).toMatchObject({ kept: true, readOnly: true });
    expect(stores.rooms.get().random).toMatchObject({ kept: false, joined: false });
    expect(unreadIn(stores.unread.get(), "team")).toEqual({ unread: 3, mentions: 1, lastRead: 2, lastSeq: 5 });
  });

  it("puts only public rooms the person is not in into the directory", () => {
    const { stores, dispatcher } = setup();
    dispatcher.directoryListed({
      rooms: [
        { id: "team", name: "team", kind: "private", read_only: false, last_seq: 0, member: true },
        { id: "lobby", name: "Lobby", kind: "public", read_only: true, last_seq: 9, member: true },
        { id: "hall", name: "hall", kind: "public", read_only: false, last_seq: 0, member: false },
      ],
      next: "more",
    });
    expect(stores.directory.get()).toEqual({ rooms: [{ id: "hall", name: "hall", lastActive: 0 }], more: true });
  });

  it("takes a room list of thousands as one change of each store it touches", () => {
    const { stores, dispatcher, heard } = setup();
    const directory = Array.from({ length: 8000 }, (_, n) => ({
      id: `room-${n}`,
      name: `room-${n}`,
      kind: "public" as const,
      read_only: false,
      last_seq: n,
      member: false,
      last_active_at: new Date(Date.UTC(2025, 2, 14) - n * 1000).toISOString(),
    }));
    dispatcher.directoryListed({ rooms: directory, next: null });
    expect(heard).toMatchObject({ directory: 1 });
    expect(stores.directory.get().rooms).toHaveLength(8000);
    expect(stores.directory.get().rooms[1]).toEqual({ id: "room-1", name: "room-1", lastActive: Date.UTC(2025, 2, 14) - 1000 });

    const mine = Array.from({ length: 8000 }, (_, n) => ({
      id: `own-${n}`,
      kind: "public" as const,
      read_only: false,
      last_seq: n + 1,
      read_seq: n,
      unread: 1,
      mentions: 0,
    }));
    const { added } = dispatcher.ownRoomsListed(mine, new Set(["lobby", "random"]));
    expect(added).toHaveLength(8000);
    expect(heard).toMatchObject({ rooms: 1, unread: 1, directory: 1 });
    dispatcher.ownRoomsListed(mine, new Set(["lobby", "random"]));
    dispatcher.directoryListed({ rooms: directory, next: null });
    expect(heard).toMatchObject({ rooms: 1, unread: 1, directory: 1 }); // the same lists again are no news
  });

  it("marks read only with the newest messages on screen, and tells the outlet", () => {
    const stores = createStores(ANN, new Prefs(new MemoryStore(), ANN.id));
    stores.rooms.update((s) => changed(known(s, "lobby", "public"), "lobby", { kept: true, joined: true }));
    const marks: [string, number][] = [];
    const dispatcher = new ChatDispatcher(
      stores,
      { now: () => 0, isVisible: () => true },
      { read: (room, seq) => marks.push([room, seq]), alert: () => undefined },
    );
    stores.navigation.update((s) => scrolled(opened(s, "lobby"), false));
    dispatcher.event({ type: "message", message: message(1) });
    expect(marks).toEqual([]);
    stores.navigation.update((s) => scrolled(s, true));
    dispatcher.markReadIfInView("lobby");
    expect(marks).toEqual([["lobby", 1]]);
  });
});
