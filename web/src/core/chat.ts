// The chat client: what the person can do (open, leave and create rooms, start DMs, send, page
// back) as requests to the gateway, whose answers the dispatcher puts into the stores. It owns
// the connection and the timers; React reads the stores (ChatStores) and calls these methods.

import type { GatewayApi, RoomInfo, RoomList, RoomKind } from "./api";
import type { Clock, ConnectionLike, ConnectionOptions } from "./connection";
import { ChatDispatcher } from "./dispatcher";
import type { Prefs } from "./prefs";
import { ProtocolError, dmRoomId, type ConnectReply, type HistoryPage, type UserRef } from "./protocol";
import { rememberIn } from "./remember";
import { RoomSearch } from "./roomSearch";
import { Sender } from "./sender";
import { createStores, type ChatStores } from "./stores";
import { needsLatestPage, oldestSeq, roomMessages, type RoomMessages } from "./stores/messages";
import { opened } from "./stores/navigation";
import { met } from "./stores/people";
import { forgotten } from "./stores/presence";
import { changed, known } from "./stores/rooms";
import { noticed } from "./stores/session";
import { expired, nextExpiry, silenced } from "./stores/typing";
import { dismissed, unreadIn } from "./stores/unread";
import { TypingAnnouncer } from "./typing";

export type ConnectionHandlers = Pick<ConnectionOptions, "onReady" | "onEvent" | "onState">;

export interface ChatDeps {
  connect(handlers: ConnectionHandlers): ConnectionLike;
  api: Pick<GatewayApi, "listRooms" | "findRooms" | "createRoom" | "addMember" | "messages">;
  prefs: Prefs;
  clock: Clock;
  newId(): string;
  isVisible(): boolean;
}

// One screen and a half of messages per page: the first paint fills the view, scrolling back
// fetches again well before the top is reached.
export const PAGE_SIZE = 50;
// Rooms and DMs others create for this person show up within this time without a reload.
const ROOM_LIST_REFRESH_MS = 30_000;

export class ChatClient {
  readonly stores: ChatStores;
  private readonly deps: ChatDeps;
  private readonly dispatcher: ChatDispatcher;
  private readonly connection: ConnectionLike;
  private readonly sender: Sender;
  private readonly announcer: TypingAnnouncer;
  private readonly search: RoomSearch;
  private readonly unsubscribes: (() => void)[];
  private roomsTimer: unknown = null;
  private typingTimer: unknown = null;

  constructor(me: UserRef, deps: ChatDeps) {
    this.deps = deps;
    this.stores = createStores(me, deps.prefs);
    this.dispatcher = new ChatDispatcher(this.stores, {
      now: () => deps.clock.now(),
      isVisible: () => deps.isVisible(),
    });
    this.connection = deps.connect({
      onReady: (reply) => this.ready(reply),
      onEvent: (event) => this.dispatcher.event(event),
      onState: (state) => this.dispatcher.connectionChanged(state),
    });
    this.sender = new Sender(this.stores, this.dispatcher, this.connection, deps.clock, deps.newId);
    this.announcer = new TypingAnnouncer({
      clock: deps.clock,
      mayAnnounce: (room) => this.stores.rooms.get()[room]?.joined === true,
      announce: (room) => this.connection.notify("typing", { room }),
    });
    this.search = new RoomSearch({
      clock: deps.clock,
      store: this.stores.search,
      find: (query) => deps.api.findRooms(query),
    });
    this.unsubscribes = [
      rememberIn(deps.prefs, this.stores),
      this.stores.typing.subscribe(() => this.expireTypists()),
    ];
  }

  start(): void {
    this.connection.start();
    void this.refreshRooms();
    const poll = (): void => {
      this.roomsTimer = this.deps.clock.setTimeout(() => {
        void this.refreshRooms().finally(poll);
      }, ROOM_LIST_REFRESH_MS);
    };
    poll();
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.roomsTimer);
    this.deps.clock.clearTimeout(this.typingTimer);
    this.announcer.stop();
    this.search.stop();
    this.sender.stop();
    this.connection.stop();
    for (const unsubscribe of this.unsubscribes) unsubscribe();
  }

  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  dismissNotice(): void {
    this.stores.session.update((s) => noticed(s, null));
  }

  /** Shows a room; a room not yet in the sidebar is added to it and joined. */
  openRoom(id: string, kind: RoomKind = "public"): void {
    this.stores.rooms.update((s) => known(s, id, kind));
    this.stores.navigation.update((s) => opened(s, id));
    if (!this.stores.rooms.get()[id]?.kept) this.keep(id);
    this.dispatcher.markReadIfInView(id);
    if (needsLatestPage(this.held(id))) void this.loadOlder(id);
  }

  startDm(person: UserRef): void {
    const me = this.stores.session.get().me.id;
    if (person.id === me) return;
    this.stores.people.update((s) => met(s, [person]));
    this.openRoom(dmRoomId(me, person.id), "dm");
  }

  async createRoom(name: string, kind: "public" | "private"): Promise<void> {
    let info: RoomInfo;
    try {
      info = await this.deps.api.createRoom(name, kind);
    } catch (error) {
      // Without the creation route a public room still comes to be by joining it: the gateway
      // creates an unknown room named in `join` as a public one (docs/protocol/asyncapi.yaml).
      if (kind === "public" && error instanceof ProtocolError && error.code === "not_found") {
        this.openRoom(name, "public");
        return;
      }
      throw error;
    }
    this.dispatcher.roomCreated(info);
    this.openRoom(info.id, info.kind);
  }

  /** Adds someone to a private room; rejects with the gateway's reason when not allowed. */
  async addMember(room: string, person: UserRef): Promise<void> {
    await this.deps.api.addMember(room, person.id);
    this.stores.people.update((s) => met(s, [person]));
  }

  leaveRoom(id: string): void {
    const room = this.stores.rooms.get()[id];
    if (room === undefined) return;
    if (room.joined) this.connection.request("leave", { room: id }).catch(() => undefined);
    this.stores.rooms.update((s) => changed(s, id, { kept: false, joined: false }));
    this.stores.unread.update((s) => dismissed(s, id));
    this.stores.presence.update((s) => forgotten(s, id));
    this.stores.typing.update((s) => silenced(s, id));
    if (this.stores.navigation.get().activeRoom === id) {
      const next = Object.values(this.stores.rooms.get()).find((r) => r.kept);
      this.stores.navigation.update((s) => opened(s, next?.id ?? null));
    }
  }

  send(room: string, body: string): void {
    if (body.trim() === "" || body.length > this.stores.session.get().maxBodyChars) return;
    if (this.stores.rooms.get()[room] === undefined) return;
    this.announcer.sent(room);
    this.sender.send(room, body);
    this.dispatcher.markReadIfInView(room);
  }

  retry(room: string, clientMsgId: string): void {
    this.sender.retry(room, clientMsgId);
  }

  discard(room: string, clientMsgId: string): void {
    this.sender.discard(room, clientMsgId);
  }

  /** The person typed in a room (others hear of it at most every 2.5 s). */
  typing(room: string): void {
    this.announcer.typed(room);
  }

  /** The page became visible again: what the person now sees counts as read. */
  visibilityChanged(): void {
    const active = this.stores.navigation.get().activeRoom;
    if (active !== null) this.dispatcher.markReadIfInView(active);
  }

  /** Fetches the page before the oldest message held (or the newest page when none is held). */
  async loadOlder(id: string): Promise<void> {
    const room = this.stores.rooms.get()[id];
    const held = this.held(id);
    if (room === undefined || room.loadingOlder || !held.hasMoreBefore) return;
    const { epoch } = held;
    this.stores.rooms.update((s) => changed(s, id, { loadingOlder: true }));
    try {
      this.dispatcher.pageArrived(id, await this.page(id, oldestSeq(held)), epoch);
    } catch (error) {
      this.dispatcher.pageFailed(id, error instanceof Error ? error.message : String(error));
    } finally {
      // After a restart the join reply ended the loading; a later load may be under way.
      if (this.held(id).epoch === epoch) this.stores.rooms.update((s) => changed(s, id, { loadingOlder: false }));
    }
  }

  async refreshRooms(): Promise<void> {
    let list: RoomList;
    try {
      list = await this.deps.api.listRooms();
    } catch {
      return; // the next poll or reconnect tries again
    }
    for (const id of this.dispatcher.roomsListed(list)) this.keep(id);
  }

  /** What the person typed to find a public room; the gateway is asked once they pause. */
  findRooms(text: string): void {
    this.search.typed(text);
  }

  // -- helpers -------------------------------------------------------------------------------

  private ready(reply: ConnectReply): void {
    this.dispatcher.ready(reply);
    for (const room of Object.values(this.stores.rooms.get())) {
      if (room.kept) void this.join(room.id);
    }
    void this.refreshRooms();
  }

  private async join(id: string): Promise<void> {
    const room = this.stores.rooms.get()[id];
    if (room === undefined) return;
    const { lastRead } = unreadIn(this.stores.unread.get(), id);
    const lastSeq = this.held(id).lastSeq;
    const since =
      lastSeq > 0
        ? lastSeq
        : lastRead > 0
          ? lastRead
          : room.kind !== "public"
            ? 0 // a DM or private room someone let this person into: everything in it is news
            : undefined;
    let reply;
    try {
      reply = await this.connection.request("join", since === undefined ? { room: id } : { room: id, since });
    } catch (error) {
      if (error instanceof ProtocolError && (error.code === "disconnected" || error.code === "timeout")) return;
      this.dispatcher.joinFailed(id, error instanceof Error ? error.message : String(error));
      return;
    }
    const { restarted } = this.dispatcher.joined(id, reply, since);
    if (this.stores.navigation.get().activeRoom === id && (restarted || needsLatestPage(this.held(id)))) {
      void this.loadOlder(id);
    }
    void this.sender.flush(id);
  }

  private keep(id: string): void {
    this.stores.rooms.update((s) => changed(s, id, { kept: true }));
    if (this.connection.online) void this.join(id);
  }

  private page(id: string, before: number | undefined): Promise<HistoryPage> {
    if (this.stores.rooms.get()[id]?.joined && this.connection.online) {
      const fields = { room: id, limit: PAGE_SIZE };
      return this.connection.request("history", before === undefined ? fields : { ...fields, before });
    }
    return this.deps.api.messages(id, before, PAGE_SIZE);
  }

  /** Someone typing is shown until their time is up: one timer, for whoever is due first. */
  private expireTypists(): void {
    const { clock } = this.deps;
    clock.clearTimeout(this.typingTimer);
    const due = nextExpiry(this.stores.typing.get());
    if (due === undefined) return;
    this.typingTimer = clock.setTimeout(() => {
      this.stores.typing.update((s) => expired(s, clock.now()));
    }, due - clock.now());
  }

  private held(id: string): RoomMessages {
    return roomMessages(this.stores.messages.get(), id);
  }
}
