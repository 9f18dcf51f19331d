// The one place where what the server says enters the chat's state: connection changes, events
// and the replies to the client's requests are routed here into the stores, with the rules that
// span stores (one's own message ends its pending entry; a message ends its author's typing; what
// arrives in the room in view counts as read). Deciding what to ask next is the caller's part.

import type { RoomInfo, RoomList } from "./api";
import type { ConnectionState } from "./connection";
import { afterFailure } from "./outbox";
import type { ChatMessage, ConnectReply, HistoryPage, JoinReply, ProtocolError, ServerEvent } from "./protocol";
import type { ChatStores } from "./stores";
import * as directory from "./stores/directory";
import * as messages from "./stores/messages";
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

export class ChatDispatcher {
  constructor(
    private readonly stores: ChatStores,
    private readonly viewer: Viewer,
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
    let { lastRead } = unread.unreadIn(this.stores.unread.get(), room);
    // A room just added: its past is history, not unread news.
    if (lastRead === 0 && since === undefined) lastRead = reply.last_seq;
    let count: number;
    if (reply.recovered) {
      this.stores.messages.update((s) => messages.caughtUp(s, room, reply.messages, reply.last_seq));
      count = unread.countUnread(this.held(room).messages, lastRead, me);
    } else {
      // The gap is wider than the catch-up window: what is held no longer meets the present.
      this.stores.messages.update((s) => messages.restarted(s, room, reply.last_seq));
      count = Math.max(0, reply.last_seq - lastRead);
    }
    this.stores.unread.update((s) => unread.counted(s, room, count, lastRead));
    this.stores.pending.update((s) => pending.deliveredAmong(s, room, this.held(room).messages, me));
    this.stores.presence.update((s) => presence.joined(s, room, reply.online));
    const loading = reply.recovered ? {} : { loadingOlder: false };
    this.stores.rooms.update((s) => rooms.changed(s, room, { joined: true, error: null, ...loading }));
    this.markReadIfInView(room);
    return { restarted: !reply.recovered };
  }

  joinFailed(room: string, reason: string): void {
    this.stores.rooms.update((s) => rooms.changed(s, room, { error: reason }));
  }

  /** The reply to one's own send: the message replaces its pending entry (if its event did not already). */
  acknowledged(room: string, clientMsgId: string, message: ChatMessage): void {
    this.stores.messages.update((s) => messages.received(s, message));
    this.stores.pending.update((s) => pending.removed(s, room, clientMsgId));
    this.markReadIfInView(room);
  }

  sendFailed(room: string, clientMsgId: string, error: ProtocolError): void {
    const now = this.viewer.now();
    this.stores.pending.update((s) =>
      pending.changed(s, room, clientMsgId, (p) => afterFailure(p, error.code, now, error.retryAfterMs)),
    );
  }

  /** A history page asked for in `epoch`; false when the room restarted since and it is stale. */
  pageArrived(room: string, page: HistoryPage, epoch: number): boolean {
    if (this.held(room).epoch !== epoch) return false;
    this.stores.people.update((s) => people.met(s, page.messages.map((m) => m.user)));
    this.stores.messages.update((s) => messages.pageArrived(s, room, page.messages, page.has_more, epoch));
    this.stores.rooms.update((s) => rooms.changed(s, room, { error: null }));
    this.markReadIfInView(room);
    return true;
  }

  pageFailed(room: string, reason: string): void {
    this.stores.rooms.update((s) => rooms.changed(s, room, { error: `Could not load messages: ${reason}` }));
  }

  /**
   * The server's room list: the person's own rooms, then a page of the directory. Each store
   * changes once, however many rooms are listed. Returns the private rooms and DMs seen for the
   * first time: being listed is being in them, so the caller adds them to the sidebar (one the
   * person closed earlier in this visit is known already and stays closed).
   */
  roomsListed({ rooms: infos, next }: RoomList): string[] {
    const before = this.stores.rooms.get();
    // Gateways before the directory listed every public room without `member`: all directory.
    const inDirectory = (info: RoomInfo): boolean => info.kind === "public" && info.member !== true;
    const known = infos.filter((info) => !inDirectory(info) || before[info.id] !== undefined);
    this.stores.rooms.update((s) => rooms.listed(s, known));
    this.stores.directory.update((s) => directory.paged(s, infos.filter(inDirectory), next !== null));
    return known.filter((info) => before[info.id] === undefined && info.kind !== "public").map((info) => info.id);
  }

  /** A room the person just created. */
  roomCreated(info: RoomInfo): void {
    this.stores.rooms.update((s) => rooms.listed(s, [info]));
  }

  /** What is in the room the person looks at, in a visible page, counts as read. */
  markReadIfInView(room: string): void {
    if (this.stores.navigation.get().activeRoom !== room || !this.viewer.isVisible()) return;
    const seq = this.held(room).lastSeq;
    this.stores.unread.update((s) => unread.read(s, room, seq));
  }

  // -- helpers -------------------------------------------------------------------------------

  private received(message: ChatMessage): void {
    if (!this.knows(message.room)) return;
    const before = this.stores.messages.get();
    this.stores.messages.update((s) => messages.received(s, message));
    if (this.stores.messages.get() === before) return; // already held
    const room = message.room;
    this.stores.people.update((s) => people.met(s, [message.user]));
    if (message.user.id === this.me()) {
      this.stores.pending.update((s) => pending.removed(s, room, message.client_msg_id));
    }
    this.stores.typing.update((s) => typing.stopped(s, room, message.user.id));
    this.stores.unread.update((s) => unread.arrived(s, message, this.me()));
    this.markReadIfInView(room);
  }

  private kicked(room: string, reason: string): void {
    const held = this.stores.rooms.get()[room];
    if (held === undefined) return;
    this.stores.rooms.update((s) => rooms.changed(s, room, { kept: false, joined: false }));
    this.stores.presence.update((s) => presence.forgotten(s, room));
    this.stores.typing.update((s) => typing.silenced(s, room));
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
