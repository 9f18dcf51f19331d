// The one place where what the server says enters the chat's state: connection changes, events
// and the replies to the client's requests are routed here into the stores, with the rules that
// span stores (one's own message ends its pending entry; a message ends its author's typing; what
// arrives in the room in view, its newest messages on screen, counts as read; a DM or a mention
// in a background page is an alert). Deciding what to ask next is the caller's part.

import { alertFor, type Alert } from "./alerts";
import type { RoomInfo, RoomList } from "./api";
import type { ConnectionState } from "./connection";
import { afterFailure } from "./outbox";
import type {
  ChatMessage,
  ConnectReply,
  HistoryPage,
  JoinReply,
  MyRoom,
  ProtocolError,
  ServerEvent,
  UserRef,
} from "./protocol";
import { isMessage } from "./roomLog";
import type { ChatStores } from "./stores";
import * as directory from "./stores/directory";
import * as messages from "./stores/messages";
import * as navigation from "./stores/navigation";
import * as people from "./stores/people";
import * as pending from "./stores/pending";
import * as presence from "./stores/presence";
import * as rooms from "./stores/rooms";
import * as session from "./stores/session";
import * as typing from "./stores/typing";
import * as unread from "./stores/unread";

export interface Viewer {
  now(): number;
  /** The page is in front of the person (not a background tab). */
  isVisible(): boolean;
}

/** What leaves the stores: read marks for the server, alerts for the desktop. */
export interface Outlets {
  /** The person has seen the room up to `seq`. */
  read(room: string, seq: number): void;
  alert(alert: Alert): void;
}

const NO_OUTLETS: Outlets = { read: () => undefined, alert: () => undefined };

/** What a room list changed: rooms now in the person's list, and rooms no longer in it. */
export interface Membership {
  added: string[];
  removed: string[];
}

export class ChatDispatcher {
  /**
   * The person's read marks are on their way from the server: nothing is marked read until they
   * are here, so a room opened from its URL on a reload keeps its "new messages" line and its
   * count tells the truth.
   */
  private awaitingMarks = false;

  constructor(
    private readonly stores: ChatStores,
    private readonly viewer: Viewer,
    private readonly outlets: Outlets = NO_OUTLETS,
  ) {}

  // -- the connection ------------------------------------------------------------------------

  ready(reply: ConnectReply): void {
    this.stores.session.update((s) => session.connected(s, reply));
  }

  connectionChanged(state: ConnectionState): void {
    this.stores.session.update((s) => session.connectionChanged(s, state));
    if (state.phase === "online") return;
    this.stores.rooms.update(rooms.disconnected);
    this.stores.typing.update(typing.nobodyHeard);
  }

  event(event: ServerEvent): void {
    switch (event.type) {
      case "message":
        this.received(event.message);
        break;
      case "presence":
        if (!this.knows(event.room)) return;
        this.stores.people.update((s) => people.met(s, [event.user]));
        this.stores.presence.update((s) => presence.changed(s, event.room, event.user, event.state));
        break;
      case "typing":
        if (!this.knows(event.room) || event.user.id === this.me()) return;
        this.stores.typing.update((s) => typing.typing(s, event.room, event.user, this.viewer.now()));
        break;
      case "kicked":
        this.kicked(event.room, event.reason);
        break;
      case "reconnect":
        break; // the connection moves by itself; rooms are joined again with `since` on ready
      case "room":
        this.topicSet(event.room, event.topic, event.user);
        break;
      case "rooms":
        this.roomsChanged(event.added ?? [], event.removed ?? []);
        break;
      case "read":
        this.stores.unread.update((s) => unread.read(s, event.room, event.seq));
        break;
      case "mention":
        this.mentioned(event.message);
        break;
    }
  }

  // -- replies -------------------------------------------------------------------------------

  /**
   * A join reply. `since` is what the join asked for. Returns whether the catch-up failed to cover
   * the gap, so the room starts again from its newest page (which the caller fetches).
   */
  joined(room: string, reply: JoinReply, since: number | undefined): { restarted: boolean } {
    this.stores.people.update((s) => people.met(s, [...reply.online, ...reply.messages.map((m) => m.user)]));
    const me = this.me();
    // A room joined for the first time and not from the server's list: its past is history, not news.
    if (since === undefined && !unread.markKnown(this.stores.unread.get(), room)) {
      this.stores.unread.update((s) => unread.read(s, room, reply.last_seq));
    }
    if (reply.recovered) {
      this.stores.messages.update((s) => messages.caughtUp(s, room, reply.messages, reply.last_seq, me));
    } else {
      // The gap is wider than the catch-up window: what is held no longer meets the present.
      this.stores.messages.update((s) => messages.restarted(s, room, reply.last_seq));
    }
    // Edits, deletes and reactions never make a room unread, nor move their author's read mark.
    const caught = reply.recovered ? reply.messages.filter(isMessage) : [];
    this.stores.unread.update((s) => unread.caughtUp(s, room, caught, reply.last_seq, me));
    this.stores.pending.update((s) => pending.deliveredAmong(s, room, this.held(room).messages, me));
    this.stores.presence.update((s) => presence.joined(s, room, reply.online));
    const loading = reply.recovered ? {} : { loadingOlder: false };
    this.stores.rooms.update((s) => rooms.changed(s, room, { joined: true, error: null, ...loading }));
    this.newsFound(room);
    return { restarted: !reply.recovered };
  }

  joinFailed(room: string, reason: string): void {
    this.stores.rooms.update((s) => rooms.changed(s, room, { error: reason }));
  }

  /** The reply to one's own send: the message replaces its pending entry (if its event did not already). */
  acknowledged(room: string, clientMsgId: string, message: ChatMessage): void {
    this.stores.messages.update((s) => messages.received(s, message, this.me()));
    this.stores.pending.update((s) => pending.removed(s, room, clientMsgId));
    this.markReadIfInView(room);
  }

  sendFailed(room: string, clientMsgId: string, error: ProtocolError): void {
    const now = this.viewer.now();
    this.stores.pending.update((s) =>
      pending.changed(s, room, clientMsgId, (p) => afterFailure(p, error.code, now, error.retryAfterMs, error.message)),
    );
  }

  /** A history page asked for in `epoch`; false when the room restarted since and it is stale. */
  pageArrived(room: string, page: HistoryPage, epoch: number): boolean {
    if (this.held(room).epoch !== epoch) return false;
    this.stores.people.update((s) => people.met(s, page.messages.map((m) => m.user)));
    const me = this.me();
    this.stores.messages.update((s) => messages.pageArrived(s, room, page.messages, page.has_more, epoch, me));
    this.stores.rooms.update((s) => rooms.changed(s, room, { error: null }));
    this.markReadIfInView(room);
    return true;
  }

  pageFailed(room: string, reason: string): void {
    this.stores.rooms.update((s) => rooms.changed(s, room, { error: `Could not load messages: ${reason}` }));
  }

  /**
   * The person's rooms as the server lists them (`GET /v1/me/rooms`), with their read marks and
   * counts; each store changes once, however many rooms. A kept room the list lacks was left on
   * another device meanwhile, unless it is in `spare` (joined since the list was asked for).
   */
  ownRoomsListed(mine: readonly MyRoom[], spare: ReadonlySet<string> = new Set()): Membership {
    this.awaitingMarks = false;
    const before = this.stores.rooms.get();
    this.stores.rooms.update((s) => rooms.belongTo(s, mine, spare));
    this.stores.unread.update((s) => unread.listed(s, mine));
    const after = this.stores.rooms.get();
    const added = mine.filter((r) => before[r.id]?.kept !== true).map((r) => r.id);
    const removed = Object.values(before)
      .filter((r) => r.kept && after[r.id]?.kept === false)
      .map((r) => r.id);
    for (const id of removed) this.forget(id);
    const active = this.stores.navigation.get().activeRoom;
    if (active !== null) this.newsFound(active);
    return { added, removed };
  }

  /** A page starts and the server's read marks are yet to come (see `awaitingMarks`). */
  marksAwaited(): void {
    this.awaitingMarks = true;
  }

  /** The room list could not be fetched: reading goes on with what this page knows. */
  marksUnavailable(room: string | null): void {
    this.awaitingMarks = false;
    if (room !== null) this.newsFound(room);
  }

  /** The first page of the directory of public rooms (the person's own rooms come from ownRoomsListed). */
  directoryListed({ rooms: infos, next }: RoomList): void {
    // Gateways before the directory listed every public room without `member`: all directory.
    const inDirectory = infos.filter((info) => info.kind === "public" && info.member !== true);
    this.stores.directory.update((s) => directory.paged(s, inDirectory, next !== null));
  }

  /** A room's topic as its staff set it (the `room` event, or the gateway's answer to one's own change). */
  topicSet(room: string, topic: string, by?: UserRef): void {
    // Frames are not checked field by field when parsed: a topic that is not text changes nothing.
    if (!this.knows(room) || typeof topic !== "string") return;
    if (by !== undefined) this.stores.people.update((s) => people.met(s, [by]));
    this.stores.rooms.update((s) => rooms.changed(s, room, { topic }));
  }

  /** A room the person just created. */
  roomCreated(info: RoomInfo): void {
    this.stores.rooms.update((s) => rooms.listed(s, [info]));
  }

  /**
   * The person comes to the open room (opens it, or returns to the page): with messages waiting,
   * the "new messages" line goes at the read mark, before it moves.
   */
  arrived(room: string): void {
    if (this.stores.navigation.get().activeRoom !== room || !this.viewer.isVisible()) return;
    const { unread: waiting, lastRead } = unread.unreadIn(this.stores.unread.get(), room);
    if (waiting > 0) this.stores.navigation.update((s) => navigation.arrivedWithNews(s, lastRead));
    this.markReadIfInView(room);
  }

  /**
   * The open room turned out to hold messages the person has not read (its count came with the
   * room list, or a catch-up brought them): the line goes at the read mark, unless it has a
   * place already. Live messages do not come here: those the person sees arrive read.
   */
  private newsFound(room: string): void {
    const view = this.stores.navigation.get();
    if (view.activeRoom !== room || view.newSince !== null || !this.viewer.isVisible()) {
      this.markReadIfInView(room);
      return;
    }
    this.arrived(room);
  }

  /** What is in the room the person looks at, its newest messages on screen in a visible page, counts as read. */
  markReadIfInView(room: string): void {
    const view = this.stores.navigation.get();
    if (view.activeRoom !== room || !view.atBottom || !this.viewer.isVisible() || this.awaitingMarks) return;
    const seq = this.held(room).lastSeq;
    if (seq <= 0) return;
    this.stores.unread.update((s) => unread.read(s, room, seq));
    this.outlets.read(room, seq);
  }

  // -- helpers -------------------------------------------------------------------------------

  private received(message: ChatMessage): void {
    if (!this.knows(message.room)) return;
    if (!isMessage(message)) {
      this.changeArrived(message);
      return;
    }
    const before = this.stores.messages.get();
    this.stores.messages.update((s) => messages.received(s, message, this.me()));
    if (this.stores.messages.get() === before) return; // already held
    const room = message.room;
    this.stores.people.update((s) => people.met(s, [message.user]));
    if (message.user.id === this.me()) {
      this.stores.pending.update((s) => pending.removed(s, room, message.client_msg_id));
    }
    this.stores.typing.update((s) => typing.stopped(s, room, message.user.id));
    this.stores.unread.update((s) => unread.arrived(s, message, this.me()));
    this.markReadIfInView(room);
    this.alertIfAway(message);
  }

  /**
   * An edit, delete or reaction: it changes the message it names (when held) and ends one's own
   * pending entry; it is no news (no unread count, no alert) and ends nobody's typing.
   */
  private changeArrived(event: ChatMessage): void {
    this.stores.messages.update((s) => messages.received(s, event, this.me()));
    this.stores.people.update((s) => people.met(s, [event.user]));
    if (event.user.id === this.me()) {
      this.stores.pending.update((s) => pending.removed(s, event.room, event.client_msg_id));
    }
  }

  /** Someone named the person in a room this connection has not joined. */
  private mentioned(message: ChatMessage): void {
    this.stores.people.update((s) => people.met(s, [message.user]));
    this.stores.unread.update((s) => unread.mentioned(s, message));
    this.alertIfAway(message);
  }

  private alertIfAway(message: ChatMessage): void {
    if (this.viewer.isVisible()) return;
    const held = this.stores.rooms.get()[message.room];
    const kind = held?.kind ?? (message.room.startsWith("dm:") ? "dm" : "public");
    const title = held === undefined ? message.room : rooms.roomTitle(held, this.stores.people.get(), this.me());
    const alert = alertFor(message, kind, this.me(), title);
    if (alert !== null) this.outlets.alert(alert);
  }

  /** Rooms the person came to belong to, or left, on this device or another. */
  private roomsChanged(added: readonly MyRoom[], removed: readonly string[]): void {
    if (added.length > 0) {
      this.stores.rooms.update((s) => rooms.belongTo(s, added, new Set(Object.keys(s))));
      this.stores.unread.update((s) => unread.listed(s, added));
    }
    const gone = removed.filter((id) => this.stores.rooms.get()[id]?.kept === true);
    if (gone.length === 0) return;
    this.stores.rooms.update((s) => gone.reduce((state, id) => rooms.changed(state, id, { kept: false, joined: false }), s));
    for (const id of gone) this.forget(id);
  }

  /** A room no longer the person's: nothing there counts or shows any more. */
  private forget(room: string): void {
    this.stores.unread.update((s) => unread.dismissed(s, room));
    this.stores.presence.update((s) => presence.forgotten(s, room));
    this.stores.typing.update((s) => typing.silenced(s, room));
  }

  private kicked(room: string, reason: string): void {
    const held = this.stores.rooms.get()[room];
    if (held === undefined) return;
    this.stores.rooms.update((s) => rooms.changed(s, room, { kept: false, joined: false }));
    this.forget(room);
    const title = rooms.roomTitle(held, this.stores.people.get(), this.me());
    const why = reason ? `: ${reason}` : "";
    this.stores.session.update((s) => session.noticed(s, `You were removed from ${title}${why}`));
  }

  private knows(room: string): boolean {
    return this.stores.rooms.get()[room] !== undefined;
  }

  private held(room: string): messages.RoomMessages {
    return messages.roomMessages(this.stores.messages.get(), room);
  }

  private me(): string {
    return this.stores.session.get().me.id;
  }
}
