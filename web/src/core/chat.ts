// The chat client: what the person can do (open, leave and create rooms, start DMs, send, page
// back, read) as requests to the gateway, whose answers the dispatcher puts into the stores. It
// owns the connection and the timers; React reads the stores (ChatStores) and calls these methods.
// The person's rooms and read marks come from the server on every connect and follow its
// `rooms` and `read` events, so every device shows the same list and the same badges.

import type { Alert } from "./alerts";
import type { AttachmentVariant, GatewayApi, RoomInfo, RoomKind } from "./api";
import { AttachmentLinks } from "./attachmentLinks";
import type { Clock, ConnectionLike, ConnectionOptions } from "./connection";
import { ChatDispatcher } from "./dispatcher";
import type { SearchPage } from "./messageSearch";
import { PeopleSearch } from "./peopleSearch";
import type { Prefs } from "./prefs";
import {
  ProtocolError,
  dmPartner,
  dmRoomId,
  type ConnectReply,
  type HistoryPage,
  type MyRoom,
  type ReplyTo,
  type ServerEvent,
  type UserRef,
} from "./protocol";
import { ReadMarker } from "./readMarker";
import { rememberIn } from "./remember";
import { RoomSearch } from "./roomSearch";
import { Sender } from "./sender";
import { createStores, type ChatStores } from "./stores";
import * as members from "./stores/members";
import { needsLatestPage, oldestSeq, roomMessages, type RoomMessages } from "./stores/messages";
import { opened, scrolled } from "./stores/navigation";
import { met } from "./stores/people";
import { forgotten } from "./stores/presence";
import { changed, known } from "./stores/rooms";
import { noticed } from "./stores/session";
import { expired, nextExpiry, silenced } from "./stores/typing";
import { dismissed, markKnown, unreadIn } from "./stores/unread";
import { topicProblem } from "./topic";
import { TypingAnnouncer } from "./typing";
import { Uploader, type LocalFile, type PutFile } from "./uploads";

export type ConnectionHandlers = Pick<ConnectionOptions, "onReady" | "onEvent" | "onState">;

export interface ChatDeps {
  connect(handlers: ConnectionHandlers): ConnectionLike;
  api: Pick<
    GatewayApi,
    | "listRooms"
    | "findRooms"
    | "createRoom"
    | "addMember"
    | "setTopic"
    | "messages"
    | "myRooms"
    | "leaveRoom"
    | "findPeople"
    | "members"
    | "searchMessages"
    | "createUpload"
    | "attachmentLink"
  >;
  /** Puts an attached file's bytes where the gateway's upload ticket says. */
  putFile: PutFile;
  prefs: Prefs;
  clock: Clock;
  newId(): string;
  isVisible(): boolean;
  /** Shows a desktop notification (when the person allowed them). */
  notify?(alert: Alert): void;
}

// One screen and a half of messages per page: the first paint fills the view, scrolling back
// fetches again well before the top is reached.
export const PAGE_SIZE = 50;
// The person's room list could not be fetched on connect: ask again this much later (the list is
// not polled otherwise; `rooms` events keep it current).
export const ROOM_LIST_RETRY_MS = 5_000;

/** Rooms whose membership changed while the person's room list was on its way. */
interface Listing {
  added: Set<string>;
  removed: Set<string>;
}

export class ChatClient {
  readonly stores: ChatStores;
  private readonly deps: ChatDeps;
  private readonly dispatcher: ChatDispatcher;
  private readonly connection: ConnectionLike;
  private readonly sender: Sender;
  private readonly announcer: TypingAnnouncer;
  private readonly search: RoomSearch;
  private readonly peopleSearch: PeopleSearch;
  private readonly reads: ReadMarker;
  private readonly uploader: Uploader;
  private readonly links: AttachmentLinks;
  private readonly unsubscribes: (() => void)[];
  private roomsTimer: unknown = null;
  private typingTimer: unknown = null;
  /** Bumped on every fetch of the room list: only the latest one's answer counts. */
  private listings = 0;
  private listing: Listing | null = null;
  /** Rooms the server has shown this page the person belongs to (listed, announced, or joined). */
  private readonly confirmed = new Set<string>();

  constructor(me: UserRef, deps: ChatDeps) {
    this.deps = deps;
    this.stores = createStores(me, deps.prefs);
    this.dispatcher = new ChatDispatcher(
      this.stores,
      { now: () => deps.clock.now(), isVisible: () => deps.isVisible() },
      { read: (room, seq) => this.reads.seen(room, seq), alert: (alert) => deps.notify?.(alert) },
    );
    this.connection = deps.connect({
      onReady: (reply) => this.ready(reply),
      onEvent: (event) => this.eventArrived(event),
      onState: (state) => this.dispatcher.connectionChanged(state),
    });
    this.reads = new ReadMarker({
      clock: deps.clock,
      online: () => this.connection.online,
      send: (room, seq) => this.connection.request("read", { room, seq }),
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
    this.peopleSearch = new PeopleSearch({
      clock: deps.clock,
      store: this.stores.peopleSearch,
      find: (prefix) => deps.api.findPeople(prefix),
    });
    this.uploader = new Uploader({ stores: this.stores, api: deps.api, putFile: deps.putFile, newId: deps.newId });
    this.links = new AttachmentLinks(deps.api, deps.clock);
    this.unsubscribes = [
      rememberIn(deps.prefs, this.stores),
      this.stores.typing.subscribe(() => this.expireTypists()),
    ];
  }

  start(): void {
    this.deps.prefs.forgetRetired();
    this.dispatcher.marksAwaited();
    this.connection.start();
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.roomsTimer);
    this.deps.clock.clearTimeout(this.typingTimer);
    this.announcer.stop();
    this.search.stop();
    this.peopleSearch.stop();
    this.reads.stop();
    this.sender.stop();
    this.uploader.stop();
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
    this.dispatcher.arrived(id);
    if (needsLatestPage(this.held(id))) void this.loadOlder(id);
  }

  /** Shows no room (the welcome screen). */
  closeRoom(): void {
    this.stores.navigation.update((s) => opened(s, null));
  }

  /** The message list of `room` shows its newest messages (`atBottom`), or the person scrolled up. */
  viewing(room: string, atBottom: boolean): void {
    if (this.stores.navigation.get().activeRoom !== room) return;
    this.stores.navigation.update((s) => scrolled(s, atBottom));
    this.dispatcher.markReadIfInView(room);
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

  /**
   * Sets a room's topic ("" clears it). Shown here as soon as the gateway stored it; the other
   * pages that have the room hear of it through the `room` event. Rejects with the reason the
   * topic cannot be one, or the gateway's reason for refusing it.
   */
  async setTopic(room: string, topic: string): Promise<void> {
    const problem = topicProblem(topic);
    if (problem !== null) throw new ProtocolError("bad_request", problem);
    const stored = await this.deps.api.setTopic(room, topic);
    this.dispatcher.topicSet(room, stored.topic);
  }

  /** Leaves a room on every device: over the socket when joined, over HTTP otherwise. */
  leaveRoom(id: string): void {
    const room = this.stores.rooms.get()[id];
    if (room === undefined) return;
    if (room.joined && this.connection.online) {
      this.connection.request("leave", { room: id }).catch(() => undefined);
    } else if (room.kept) {
      this.deps.api.leaveRoom(id).catch(() => undefined);
    }
    this.listing?.removed.add(id);
    this.confirmed.delete(id);
    this.reads.forget(id);
    this.stores.rooms.update((s) => changed(s, id, { kept: false, joined: false }));
    this.stores.unread.update((s) => dismissed(s, id));
    this.stores.presence.update((s) => forgotten(s, id));
    this.stores.typing.update((s) => silenced(s, id));
    if (this.stores.navigation.get().activeRoom === id) {
      const next = Object.values(this.stores.rooms.get()).find((r) => r.kept);
      this.stores.navigation.update((s) => opened(s, next?.id ?? null));
    }
  }

  /**
   * Sends a message with the files attached in the room's box (when there are), `replyTo` being
   * the message it answers (shown quoted above it). False, and nothing sent, while a file is still
   * uploading or one failed, or when there is nothing to send.
   */
  send(room: string, body: string, replyTo?: ReplyTo): boolean {
    if (this.stores.rooms.get()[room] === undefined) return false;
    const files = this.uploader.ready(room);
    if (files === null) return false;
    if (files.length === 0 ? !this.fits(body) : body.length > this.stores.session.get().maxBodyChars) return false;
    this.announcer.sent(room);
    this.uploader.sent(room);
    this.sender.send(room, body, replyTo, files);
    this.dispatcher.markReadIfInView(room);
    return true;
  }

  /** Files pasted, dropped or picked for the message being written in `room`: they upload at once. */
  attach(room: string, files: readonly LocalFile[]): void {
    if (files.length === 0 || this.stores.rooms.get()[room] === undefined) return;
    this.uploader.attach(room, files);
  }

  /** Takes a file out of the message being written (an upload under way stops). */
  removeAttachment(room: string, key: string): void {
    this.uploader.remove(room, key);
  }

  /** Tries a file that failed to upload again. */
  retryAttachment(room: string, key: string): void {
    this.uploader.retry(room, key);
  }

  /** A presigned link to an attached file (its thumbnail, or the original to view or download). */
  attachmentLink(room: string, id: string, variant: AttachmentVariant): Promise<string> {
    return this.links.link(room, id, variant);
  }

  /**
   * Changes the text of one's own message. It shows once the gateway stored the edit; a refusal
   * (someone else's message, the edit window passed) shows under the message.
   */
  edit(room: string, messageId: string, body: string): void {
    if (!this.fits(body) || this.stores.rooms.get()[room] === undefined) return;
    this.sender.act(room, "edit", messageId, { body });
  }

  /** Deletes a message: one's own, or anyone's for the room's owner and moderators. */
  deleteMessage(room: string, messageId: string): void {
    if (this.stores.rooms.get()[room] === undefined) return;
    this.sender.act(room, "delete", messageId);
  }

  /** Adds `emoji` to a message, or takes it back when the person had put it there (the gateway decides). */
  react(room: string, messageId: string, emoji: string): void {
    if (emoji === "" || this.stores.rooms.get()[room] === undefined) return;
    this.sender.act(room, "react", messageId, { emoji });
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
    if (active !== null) this.dispatcher.arrived(active);
  }

  /** Fetches who belongs to a room, with roles, for the members panel. */
  async loadMembers(room: string): Promise<void> {
    this.stores.members.update((s) => members.loading(s, room));
    try {
      const list = await this.deps.api.members(room);
      this.stores.people.update((s) => met(s, list.members));
      this.stores.members.update((s) => members.loaded(s, room, list));
    } catch (error) {
      this.stores.members.update((s) => members.failed(s, room, error instanceof Error ? error.message : String(error)));
    }
  }

  /** One page of the messages matching `query` (`before`: the cursor of the page before). */
  searchMessages(query: string, room: string | null, before: string | null): Promise<SearchPage> {
    return this.deps.api.searchMessages(query, room, before);
  }

  /** What the person typed to find someone to write to; the people directory is asked once they pause. */
  findPeople(text: string): void {
    this.peopleSearch.typed(text);
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

  /** The first page of the directory of public rooms, asked for on every connect. */
  async refreshDirectory(): Promise<void> {
    try {
      this.dispatcher.directoryListed(await this.deps.api.listRooms());
    } catch {
      // The directory waits for the next connect; the person's own rooms do not depend on it.
    }
  }

  /**
   * Fetches the person's rooms and read marks, makes the sidebar match (rooms left or joined on
   * another device while this one was away), then joins them all with `since`. Rooms joined or
   * left while the list is on its way keep what the person did here.
   */
  async syncRooms(): Promise<void> {
    const generation = ++this.listings;
    const listing: Listing = { added: new Set(), removed: new Set() };
    // The room in view stays when the server has yet to hear of it (opened from its URL before
    // the first connect); one the server had listed and lists no more was left elsewhere.
    const active = this.stores.navigation.get().activeRoom;
    if (active !== null && this.stores.rooms.get()[active]?.kept && !this.confirmed.has(active)) {
      listing.added.add(active);
    }
    this.listing = listing;
    let mine: MyRoom[] | null = null;
    try {
      mine = await this.deps.api.myRooms();
    } catch {
      // Joined below are the rooms this page held; the list is asked for again shortly.
    }
    if (generation !== this.listings) return; // a newer connect asked again
    this.listing = null;
    if (mine !== null) {
      const fresh = mine.filter((room) => !listing.removed.has(room.id));
      const { removed } = this.dispatcher.ownRoomsListed(fresh, listing.added);
      for (const room of fresh) {
        this.confirmed.add(room.id);
        this.reads.known(room.id, room.read_seq);
      }
      for (const id of removed) {
        this.confirmed.delete(id);
        this.reads.forget(id);
      }
    } else if (this.connection.online) {
      this.dispatcher.marksUnavailable(this.stores.navigation.get().activeRoom);
      this.deps.clock.clearTimeout(this.roomsTimer);
      this.roomsTimer = this.deps.clock.setTimeout(() => {
        if (generation === this.listings) void this.syncRooms();
      }, ROOM_LIST_RETRY_MS);
    }
    this.reads.connected();
    for (const room of Object.values(this.stores.rooms.get())) {
      if (room.kept && !room.joined) void this.join(room.id);
    }
    void this.learnPartnerNames();
  }

  /** What the person typed to find a public room; the gateway is asked once they pause. */
  findRooms(text: string): void {
    this.search.typed(text);
  }

  // -- helpers -------------------------------------------------------------------------------

  private fits(body: string): boolean {
    return body.trim() !== "" && body.length <= this.stores.session.get().maxBodyChars;
  }

  private ready(reply: ConnectReply): void {
    this.dispatcher.ready(reply);
    void this.syncRooms();
    void this.refreshDirectory();
  }

  private eventArrived(event: ServerEvent): void {
    const before = this.stores.rooms.get();
    this.dispatcher.event(event);
    if (event.type === "read") {
      this.reads.known(event.room, event.seq);
    } else if (event.type === "rooms") {
      for (const room of event.added ?? []) {
        this.listing?.added.add(room.id);
        this.confirmed.add(room.id);
        this.reads.known(room.id, room.read_seq);
        // A room this page keeps already is joined (or being joined) here.
        if (this.connection.online && before[room.id]?.kept !== true) void this.join(room.id);
      }
      for (const id of event.removed ?? []) {
        this.listing?.removed.add(id);
        this.confirmed.delete(id);
        this.reads.forget(id);
      }
      void this.learnPartnerNames();
    }
  }

  /**
   * The people behind DMs listed without a name this device has met: asked of each DM's member
   * list, one at a time (a new device may list many), stopping at the first failure.
   */
  private async learnPartnerNames(): Promise<void> {
    const me = this.stores.session.get().me.id;
    const unnamed = Object.values(this.stores.rooms.get()).filter((room) => {
      const partner = room.kept ? dmPartner(room.id, me) : null;
      return partner !== null && this.stores.people.get()[partner] === undefined;
    });
    for (const room of unnamed) {
      const partner = dmPartner(room.id, me);
      if (partner === null || this.stores.people.get()[partner] !== undefined) continue;
      try {
        const list = await this.deps.api.members(room.id);
        this.stores.people.update((s) => met(s, list.members));
      } catch {
        return;
      }
    }
  }

  private async join(id: string): Promise<void> {
    const room = this.stores.rooms.get()[id];
    if (room === undefined) return;
    const marks = this.stores.unread.get();
    const lastSeq = this.held(id).lastSeq;
    const since =
      lastSeq > 0
        ? lastSeq
        : markKnown(marks, id)
          ? unreadIn(marks, id).lastRead // the server's read mark: what came after is news
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
    this.confirmed.add(id); // joining records the membership
    const { restarted } = this.dispatcher.joined(id, reply, since);
    if (this.stores.navigation.get().activeRoom === id && (restarted || needsLatestPage(this.held(id)))) {
      void this.loadOlder(id);
    }
    void this.sender.flush(id);
  }

  private keep(id: string): void {
    this.listing?.added.add(id);
    this.listing?.removed.delete(id);
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
