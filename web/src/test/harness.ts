// A chat client wired to the in-memory gateway and clock, for tests of the client and of the
// components that show it: the test plays the gateway with `pump` and looks at the stores.

import type { Alert } from "../core/alerts";
import type { RoomInfo, RoomList } from "../core/api";
import { ChatClient } from "../core/chat";
import { ChatConnection } from "../core/connection";
import { MemoryStore, Prefs } from "../core/prefs";
import type { HistoryPage, UserRef } from "../core/protocol";
import { roomMessages } from "../core/stores/messages";
import { pendingIn } from "../core/stores/pending";
import { onlineIn } from "../core/stores/presence";
import { roomTitle } from "../core/stores/rooms";
import { typistsIn } from "../core/stores/typing";
import { unreadIn } from "../core/stores/unread";
import { FakeClock, FakeGateway, FakeStore, SocketRecorder, settle, type FakeSocket } from "./fakes";

export const ANN: UserRef = { id: "u-ann", name: "ann" };
export const BOB: UserRef = { id: "u-bob", name: "bob" };

export interface ChatOptions {
  storage?: MemoryStore;
  visible?: boolean;
  clock?: FakeClock;
  gateway?: FakeGateway;
}

export type Chat = ReturnType<typeof startChat>;

/** Signs ann in; nothing is sent until `client.start()` and `pump()`. */
export function startChat(options: ChatOptions = {}) {
  const clock = options.clock ?? new FakeClock();
  const recorder = new SocketRecorder();
  const gateway = options.gateway ?? new FakeGateway(clock, ANN);
  const storage = options.storage ?? new MemoryStore();
  const serverRooms: RoomInfo[] = [];
  const searches: string[] = [];
  const peopleAsked: string[] = [];
  let ids = 0;
  const alerts: Alert[] = [];
  const store = new FakeStore(gateway);
  const visible = { value: options.visible ?? true };
  const client = new ChatClient(ANN, {
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
      listRooms: async () => roomList(serverRooms, null, null),
      findRooms: async (query, cursor) => {
        searches.push(query);
        return roomList(serverRooms, query, cursor ?? null);
      },
      createRoom: async (name, kind) => ({ id: name, name, kind, read_only: false, last_seq: 0 }),
      addMember: async () => undefined,
      setTopic: async (room, topic) => gateway.patchRoom(room, topic),
      myRooms: async () => gateway.myRooms(),
      leaveRoom: async (room) => gateway.leave(room),
      findPeople: async (prefix, limit) => {
        peopleAsked.push(prefix);
        return gateway.findPeople(prefix, limit);
      },
      members: async (room) => gateway.memberList(room),
      searchMessages: async (query, room, before, limit) => gateway.search(query, room, before, limit),
      createUpload: async (room, file) => gateway.createUpload(room, file),
      attachmentLink: async (room, id, variant) => gateway.attachmentLink(room, id, variant),
      messages: async (room, before, limit): Promise<HistoryPage> => {
        const older = (gateway.rooms.get(room) ?? []).filter((m) => m.seq < (before ?? Infinity));
        return { messages: older.slice(-limit), has_more: older.length > limit };
      },
    },
    putFile: store.put,
    prefs: new Prefs(storage, ANN.id),
    clock,
    newId: () => `c-${++ids}`,
    isVisible: () => visible.value,
    notify: (alert) => alerts.push(alert),
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
  /** A room as the stores hold it, gathered in one object. */
  const room = (id: string) => {
    const { stores } = client;
    const found = stores.rooms.get()[id];
    if (found === undefined) throw new Error(`no room ${id}`);
    return {
      ...found,
      title: roomTitle(found, stores.people.get(), stores.session.get().me.id),
      timeline: roomMessages(stores.messages.get(), id),
      pending: pendingIn(stores.pending.get(), id),
      online: onlineIn(stores.presence.get(), id),
      typing: typistsIn(stores.typing.get(), id).map((t) => t.user),
      ...unreadIn(stores.unread.get(), id),
    };
  };
  const bodies = (id: string) => room(id).timeline.messages.map((m) => m.body);
  return {
    clock,
    recorder,
    gateway,
    store,
    client,
    storage,
    serverRooms,
    searches,
    peopleAsked,
    alerts,
    pump,
    room,
    bodies,
    visible,
  };
}

// The gateway's directory page, small so that tests fill it with a few rooms.
export const DIRECTORY_PAGE = 20;

/**
 * The gateway's room list in miniature: without a query or cursor the person's own rooms (member,
 * or not public) and the first directory page; with them, a directory page alone. The directory
 * holds the other public rooms, the most recently active first. (The person's own rooms reach the
 * client through `GET /v1/me/rooms`, the gateway's memberships.)
 */
function roomList(rooms: readonly RoomInfo[], query: string | null, cursor: string | null): RoomList {
  const own = query === null && cursor === null ? rooms.filter((r) => r.member === true || r.kind !== "public") : [];
  const directory = rooms
    .filter((r) => r.kind === "public" && r.member !== true && (query === null || r.id.startsWith(query)))
    .sort((a, b) => (b.last_active_at ?? "").localeCompare(a.last_active_at ?? "") || b.id.localeCompare(a.id));
  const start = cursor === null ? 0 : Number(cursor);
  const page = directory.slice(start, start + DIRECTORY_PAGE);
  const end = start + page.length;
  return { rooms: [...own, ...page], next: end < directory.length ? String(end) : null };
}
