// The chat as the page sees it: rooms with their timelines, pending sends, presence, typing and
// unread counts, kept consistent across reconnects. React reads snapshots of it
// (subscribe/getSnapshot); every change makes a new snapshot object.

import type { GatewayApi, RoomInfo, RoomKind } from "./api";
import type { Clock, ConnectionOptions, ConnectionState } from "./connection";
import {
  afterFailure,
  isDue,
  markSending,
  newPending,
  retryNow,
  type PendingMessage,
} from "./outbox";
import type { Prefs } from "./prefs";
import {
  ProtocolError,
  dmPartner,
  dmRoomId,
  type ChatMessage,
  type ConnectReply,
  type HistoryPage,
  type JoinReply,
  type SendReply,
  type ServerEvent,
  type UserRef,
} from "./protocol";
import {
  EMPTY_TIMELINE,
  applyCatchUp,
  mergeMessages,
  needsLatestPage,
  oldestSeq,
  prependPage,
  type Timeline,
} from "./timeline";
import { TYPING_SEND_INTERVAL_MS, TYPING_SHOW_MS, shouldSendTyping } from "./typing";

export interface RoomView {
  readonly id: string;
  readonly kind: RoomKind;
  readonly title: string;
  readonly readOnly: boolean;
  /** In the person's sidebar; joined whenever the connection is up. */
  readonly kept: boolean;
  /** Joined on the current connection. */
  readonly joined: boolean;
  readonly timeline: Timeline;
  readonly pending: readonly PendingMessage[];
  readonly online: readonly UserRef[];
  readonly typing: readonly UserRef[];
  readonly unread: number;
  readonly lastRead: number;
  readonly loadingOlder: boolean;
  readonly error: string | null;
}

export interface ChatState {
  readonly me: UserRef;
  /** Global roles from the gateway's connect reply: `member`, `moderator`, `admin`. */
  readonly roles: readonly string[];
  /** The gateway's id for the current connection (for support: it names the gateway). */
  readonly session: string | null;
  readonly connection: ConnectionState;
  readonly rooms: Readonly<Record<string, RoomView>>;
  readonly activeRoom: string | null;
  readonly notice: string | null;
  readonly maxBodyChars: number;
  /** Everyone met so far (online lists, messages), by id: the people a DM can be started with. */
  readonly people: Readonly<Record<string, string>>;
}

/** The part of ChatConnection the store uses. */
export interface ConnectionLike {
  readonly online: boolean;
  start(): void;
  stop(): void;
  reconnectNow(): void;
  request<T>(type: string, fields?: Record<string, unknown>): Promise<T>;
  notify(type: string, fields?: Record<string, unknown>): boolean;
}

export type ConnectionHandlers = Pick<ConnectionOptions, "onReady" | "onEvent" | "onState">;

export interface ChatDeps {
  connect(handlers: ConnectionHandlers): ConnectionLike;
  api: Pick<GatewayApi, "listRooms" | "createRoom" | "addMember" | "messages">;
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

export class ChatStore {
  private state: ChatState;
  private readonly deps: ChatDeps;
  private readonly connection: ConnectionLike;
  private readonly listeners = new Set<() => void>();
  private readonly typingSentAt = new Map<string, number>();
  private readonly typingLater = new Map<string, unknown>();
  private readonly typingTimers = new Map<string, unknown>();
  private readonly sending = new Set<string>();
  private readonly flushTimers = new Map<string, unknown>();
  // Bumped when a room's timeline restarts: history pages asked for before are then stale.
  private readonly epochs = new Map<string, number>();
  private names: Record<string, string>;
  private roomsTimer: unknown = null;

  constructor(me: UserRef, deps: ChatDeps) {
    this.deps = deps;
    this.names = { ...deps.prefs.names(), [me.id]: me.name };
    const lastRead = deps.prefs.lastRead();
    const rooms: Record<string, RoomView> = {};
    for (const kept of deps.prefs.rooms()) {
      rooms[kept.id] = {
        ...this.blankRoom(kept.id, kept.kind, me),
        kept: true,
        lastRead: lastRead[kept.id] ?? 0,
      };
    }
    this.state = {
      me,
      roles: [],
      session: null,
      connection: { phase: "connecting", attempt: 0 },
      rooms,
      activeRoom: null,
      notice: null,
      maxBodyChars: 4000,
      people: this.names,
    };
    this.connection = deps.connect({
      onReady: (reply) => this.ready(reply),
      onEvent: (event) => this.event(event),
      onState: (state) => this.connectionChanged(state),
    });
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ChatState => this.state;

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
    const timers = [...this.typingTimers.values(), ...this.typingLater.values(), ...this.flushTimers.values()];
    for (const timer of timers) {
      this.deps.clock.clearTimeout(timer);
    }
    this.connection.stop();
  }

  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  dismissNotice(): void {
    this.commit({ ...this.state, notice: null });
  }

  /** Shows a room; a room not yet in the sidebar is added to it and joined. */
  openRoom(id: string, kind: RoomKind = "public"): void {
    if (this.state.rooms[id] === undefined) this.putRoom(this.blankRoom(id, kind, this.state.me));
    this.commit({ ...this.state, activeRoom: id });
    const room = this.room(id);
    if (!room.kept) this.keep(id);
    this.markRead(id);
    if (needsLatestPage(this.room(id).timeline)) void this.loadOlder(id);
  }

  startDm(person: UserRef): void {
    if (person.id === this.state.me.id) return;
    this.learnNames([person]);
    this.openRoom(dmRoomId(this.state.me.id, person.id), "dm");
  }

  async createRoom(name: string, kind: "public" | "private"): Promise<void> {
    let info: RoomInfo;
    try {
      info = await this.deps.api.createRoom(name, kind);
    } catch (error) {
      // Without the creation route a public room still comes to be by joining it (PROTOCOL.md).
      if (kind === "public" && error instanceof ProtocolError && error.code === "not_found") {
        this.openRoom(name, "public");
        return;
      }
      throw error;
    }
    this.upsertFromServer(info);
    this.openRoom(info.id, info.kind);
  }

  /** Adds someone to a private room; rejects with the gateway's reason when not allowed. */
  async addMember(roomId: string, person: UserRef): Promise<void> {
    await this.deps.api.addMember(roomId, person.id);
    this.learnNames([person]);
  }

  leaveRoom(id: string): void {
    const room = this.state.rooms[id];
    if (room === undefined) return;
    if (room.joined) this.connection.request("leave", { room: id }).catch(() => undefined);
    this.putRoom({ ...room, kept: false, joined: false, unread: 0, online: [], typing: [] });
    this.saveKept();
    if (this.state.activeRoom === id) {
      const next = Object.values(this.state.rooms).find((r) => r.kept);
      this.commit({ ...this.state, activeRoom: next?.id ?? null });
    }
  }

  send(roomId: string, body: string): void {
    if (body.trim() === "" || body.length > this.state.maxBodyChars) return;
    const room = this.state.rooms[roomId];
    if (room === undefined) return;
    // The message itself tells the others the typing is over: no late announcement after it.
    this.deps.clock.clearTimeout(this.typingLater.get(roomId));
    this.typingLater.delete(roomId);
    const pending = newPending(roomId, body, this.deps.newId(), this.deps.clock.now());
    this.putRoom({ ...room, pending: [...room.pending, pending] });
    this.markRead(roomId);
    void this.flush(roomId);
  }

  /** The person pressed Retry on a failed message: it goes out with its first client_msg_id. */
  retry(roomId: string, clientMsgId: string): void {
    this.updatePending(roomId, clientMsgId, retryNow);
    void this.flush(roomId);
  }

  discard(roomId: string, clientMsgId: string): void {
    const room = this.state.rooms[roomId];
    if (room === undefined) return;
    this.putRoom({ ...room, pending: room.pending.filter((p) => p.clientMsgId !== clientMsgId) });
  }

  /**
   * The person typed in a room. Others hear of it at most every 2.5 s (the gateway drops more);
   * keystrokes inside that window are not lost but announced once it ends, so a short burst
   * right after an earlier one still shows.
   */
  typing(roomId: string): void {
    const now = this.deps.clock.now();
    if (!this.state.rooms[roomId]?.joined) return;
    const last = this.typingSentAt.get(roomId);
    if (shouldSendTyping(last, now)) {
      if (this.connection.notify("typing", { room: roomId })) this.typingSentAt.set(roomId, now);
      return;
    }
    if (last === undefined || this.typingLater.has(roomId)) return;
    const timer = this.deps.clock.setTimeout(() => {
      this.typingLater.delete(roomId);
      this.typing(roomId);
    }, last + TYPING_SEND_INTERVAL_MS - now);
    this.typingLater.set(roomId, timer);
  }

  /** The page became visible again: what the person now sees counts as read. */
  visibilityChanged(): void {
    if (this.state.activeRoom !== null) this.markRead(this.state.activeRoom);
  }

  /** Fetches the page before the oldest message held (or the newest page when none is held). */
  async loadOlder(roomId: string): Promise<void> {
    const room = this.state.rooms[roomId];
    if (room === undefined || room.loadingOlder || !room.timeline.hasMoreBefore) return;
    const epoch = this.epochs.get(roomId) ?? 0;
    const before = oldestSeq(room.timeline);
    this.putRoom({ ...room, loadingOlder: true });
    try {
      const page = await this.page(roomId, before);
      if ((this.epochs.get(roomId) ?? 0) !== epoch) return;
      const current = this.room(roomId);
      this.learnNames(page.messages.map((m) => m.user));
      this.putRoom({
        ...current,
        timeline: prependPage(current.timeline, page.messages, page.has_more),
        error: null,
      });
      if (this.state.activeRoom === roomId) this.markRead(roomId);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.putRoom({ ...this.room(roomId), error: `Could not load messages: ${message}` });
    } finally {
      const current = this.state.rooms[roomId];
      const stale = (this.epochs.get(roomId) ?? 0) !== epoch;
      if (current !== undefined && !stale) this.putRoom({ ...current, loadingOlder: false });
    }
  }

  async refreshRooms(): Promise<void> {
    let infos: RoomInfo[];
    try {
      infos = await this.deps.api.listRooms();
    } catch {
      return; // the next poll or reconnect tries again
    }
    for (const info of infos) this.upsertFromServer(info);
  }

  // -- connection events ---------------------------------------------------------------------

  private ready(reply: ConnectReply): void {
    const me = { id: reply.user.id, name: reply.user.name };
    this.commit({
      ...this.state,
      me,
      roles: reply.user.roles ?? [],
      session: reply.session ?? null,
      maxBodyChars: reply.limits?.max_body_chars ?? 4000,
    });
    for (const room of Object.values(this.state.rooms)) {
      if (room.kept) void this.join(room.id);
    }
    void this.refreshRooms();
  }

  private connectionChanged(connection: ConnectionState): void {
    let rooms = this.state.rooms;
    if (connection.phase !== "online") {
      rooms = Object.fromEntries(
        Object.entries(rooms).map(([id, room]) => [id, room.joined ? { ...room, joined: false, typing: [] } : room]),
      );
    }
    this.commit({ ...this.state, connection, rooms });
  }

  private event(event: ServerEvent): void {
    switch (event.type) {
      case "message":
        this.received(event.message);
        break;
      case "presence": {
        const room = this.state.rooms[event.room];
        if (room === undefined) return;
        this.learnNames([event.user]);
        const others = room.online.filter((u) => u.id !== event.user.id);
        this.putRoom({ ...room, online: event.state === "online" ? [...others, event.user] : others });
        break;
      }
      case "typing":
        this.someoneTypes(event.room, event.user);
        break;
      case "kicked": {
        const room = this.state.rooms[event.room];
        if (room === undefined) return;
        this.putRoom({ ...room, kept: false, joined: false, online: [], typing: [] });
        this.saveKept();
        const reason = event.reason ? `: ${event.reason}` : "";
        this.commit({ ...this.state, notice: `You were removed from ${room.title}${reason}` });
        break;
      }
      case "reconnect":
        break; // the connection moves by itself; rooms are rejoined with `since` on ready
    }
  }

  private async join(roomId: string): Promise<void> {
    const room = this.room(roomId);
    const since =
      room.timeline.lastSeq > 0
        ? room.timeline.lastSeq
        : room.lastRead > 0
          ? room.lastRead
          : room.kind !== "public"
            ? 0 // a DM or private room someone let this person into: everything in it is news
            : undefined;
    let reply: JoinReply;
    try {
      reply = await this.connection.request<JoinReply>("join", since === undefined ? { room: roomId } : { room: roomId, since });
    } catch (error) {
      if (error instanceof ProtocolError && (error.code === "disconnected" || error.code === "timeout")) return;
      const message = error instanceof Error ? error.message : String(error);
      this.putRoom({ ...this.room(roomId), error: message });
      return;
    }
    this.joined(roomId, reply, since);
  }

  private joined(roomId: string, reply: JoinReply, since: number | undefined): void {
    const room = this.room(roomId);
    this.learnNames([...reply.online, ...reply.messages.map((m) => m.user)]);
    const me = this.state.me.id;
    let { lastRead } = room;
    if (lastRead === 0 && since === undefined) {
      // A room just added: its past is history, not unread news.
      lastRead = reply.last_seq;
      this.deps.prefs.setLastRead(roomId, lastRead);
    }
    let timeline: Timeline;
    let unread: number;
    let reload = false;
    if (reply.recovered) {
      timeline = applyCatchUp(room.timeline, reply.messages, reply.last_seq);
      unread = countUnread(timeline, lastRead, me);
    } else {
      // The gap is wider than the catch-up window: what is held no longer meets the present.
      this.epochs.set(roomId, (this.epochs.get(roomId) ?? 0) + 1);
      timeline = { ...EMPTY_TIMELINE, lastSeq: reply.last_seq };
      unread = Math.max(0, reply.last_seq - lastRead);
      reload = true;
    }
    const pending = room.pending.filter(
      (p) => !timeline.messages.some((m) => m.user.id === me && m.client_msg_id === p.clientMsgId),
    );
    this.putRoom({
      ...room,
      timeline,
      pending,
      lastRead,
      unread,
      online: reply.online,
      joined: true,
      loadingOlder: reload ? false : room.loadingOlder,
      error: null,
    });
    if (this.state.activeRoom === roomId) {
      this.markRead(roomId);
      if (reload || needsLatestPage(timeline)) void this.loadOlder(roomId);
    }
    void this.flush(roomId);
  }

  private received(message: ChatMessage): void {
    const room = this.state.rooms[message.room];
    if (room === undefined) return;
    const timeline = mergeMessages(room.timeline, [message]);
    if (timeline === room.timeline) return; // already held
    this.learnNames([message.user]);
    const own = message.user.id === this.state.me.id;
    const pending = own ? room.pending.filter((p) => p.clientMsgId !== message.client_msg_id) : room.pending;
    const typing = room.typing.filter((u) => u.id !== message.user.id);
    const news = !own && message.seq > room.lastRead ? 1 : 0;
    this.putRoom({ ...room, timeline, pending, typing, unread: room.unread + news });
    if (this.state.activeRoom === message.room) this.markRead(message.room);
  }

  private someoneTypes(roomId: string, person: UserRef): void {
    const room = this.state.rooms[roomId];
    if (room === undefined || person.id === this.state.me.id) return;
    const key = `${roomId}\n${person.id}`;
    this.deps.clock.clearTimeout(this.typingTimers.get(key));
    this.typingTimers.set(
      key,
      this.deps.clock.setTimeout(() => {
        this.typingTimers.delete(key);
        const current = this.state.rooms[roomId];
        if (current !== undefined) {
          this.putRoom({ ...current, typing: current.typing.filter((u) => u.id !== person.id) });
        }
      }, TYPING_SHOW_MS),
    );
    if (!room.typing.some((u) => u.id === person.id)) {
      this.putRoom({ ...room, typing: [...room.typing, person] });
    }
  }

  // -- sending -------------------------------------------------------------------------------

  /** Sends a room's pending messages one at a time, in the order they were typed. */
  private async flush(roomId: string): Promise<void> {
    if (this.sending.has(roomId)) return;
    this.deps.clock.clearTimeout(this.flushTimers.get(roomId));
    this.flushTimers.delete(roomId);
    for (;;) {
      const room = this.state.rooms[roomId];
      if (room === undefined || !room.joined || !this.connection.online) return;
      const next = [...room.pending]
        .filter((p) => p.state !== "failed")
        .sort((a, b) => a.createdAt - b.createdAt)[0];
      if (next === undefined) return;
      const now = this.deps.clock.now();
      if (!isDue(next, now)) {
        if (next.state === "queued" && next.retryAt !== undefined) {
          const wait = next.retryAt - now;
          this.flushTimers.set(roomId, this.deps.clock.setTimeout(() => void this.flush(roomId), wait));
        }
        return;
      }
      this.sending.add(roomId);
      this.updatePending(roomId, next.clientMsgId, markSending);
      try {
        const reply = await this.connection.request<SendReply>("send", {
          room: roomId,
          body: next.body,
          client_msg_id: next.clientMsgId,
        });
        this.acknowledged(roomId, reply.message, next.clientMsgId);
      } catch (error) {
        const failure = error instanceof ProtocolError ? error : new ProtocolError("internal", String(error));
        this.updatePending(roomId, next.clientMsgId, (p) =>
          afterFailure(p, failure.code, this.deps.clock.now(), failure.retryAfterMs),
        );
      } finally {
        this.sending.delete(roomId);
      }
    }
  }

  private acknowledged(roomId: string, message: ChatMessage, clientMsgId: string): void {
    const room = this.room(roomId);
    this.putRoom({
      ...room,
      timeline: mergeMessages(room.timeline, [message]),
      pending: room.pending.filter((p) => p.clientMsgId !== clientMsgId),
    });
    if (this.state.activeRoom === roomId) this.markRead(roomId);
  }

  private updatePending(
    roomId: string,
    clientMsgId: string,
    change: (message: PendingMessage) => PendingMessage,
  ): void {
    const room = this.state.rooms[roomId];
    if (room === undefined) return;
    this.putRoom({
      ...room,
      pending: room.pending.map((p) => (p.clientMsgId === clientMsgId ? change(p) : p)),
    });
  }

  // -- helpers -------------------------------------------------------------------------------

  private page(roomId: string, before: number | undefined): Promise<HistoryPage> {
    const room = this.room(roomId);
    if (room.joined && this.connection.online) {
      const fields: Record<string, unknown> = { room: roomId, limit: PAGE_SIZE };
      if (before !== undefined) fields.before = before;
      return this.connection.request<HistoryPage>("history", fields);
    }
    return this.deps.api.messages(roomId, before, PAGE_SIZE);
  }

  private markRead(roomId: string): void {
    const room = this.state.rooms[roomId];
    if (room === undefined || !this.deps.isVisible()) return;
    const seq = room.timeline.lastSeq;
    if (room.unread === 0 && room.lastRead >= seq) return;
    this.deps.prefs.setLastRead(roomId, seq);
    this.putRoom({ ...room, unread: 0, lastRead: Math.max(room.lastRead, seq) });
  }

  private keep(roomId: string): void {
    this.putRoom({ ...this.room(roomId), kept: true });
    this.saveKept();
    if (this.connection.online) void this.join(roomId);
  }

  private saveKept(): void {
    const kept = Object.values(this.state.rooms)
      .filter((r) => r.kept)
      .map((r) => ({ id: r.id, kind: r.kind }));
    this.deps.prefs.setRooms(kept);
  }

  private upsertFromServer(info: RoomInfo): void {
    const existing = this.state.rooms[info.id];
    const base = existing ?? this.blankRoom(info.id, info.kind, this.state.me);
    const room: RoomView = {
      ...base,
      kind: info.kind,
      readOnly: info.read_only,
      title: roomTitle(info.id, info.kind, info.name, this.names, this.state.me.id),
    };
    this.putRoom(room);
    // Private rooms and DMs are listed only to their members: being listed is being in them.
    // Only a newly seen one is added, so one the person closed stays closed.
    if (existing === undefined && info.kind !== "public") this.keep(info.id);
  }

  private learnNames(people: readonly UserRef[]): void {
    const fresh: Record<string, string> = {};
    for (const person of people) {
      if (this.names[person.id] !== person.name) fresh[person.id] = person.name;
    }
    if (Object.keys(fresh).length === 0) return;
    this.names = { ...this.names, ...fresh };
    this.deps.prefs.rememberNames(fresh);
    this.commit({ ...this.state, people: this.names });
    // DM titles come from these names.
    const me = this.state.me.id;
    for (const room of Object.values(this.state.rooms)) {
      const partner = dmPartner(room.id, me);
      if (partner !== null && fresh[partner] !== undefined) {
        this.putRoom({ ...room, title: fresh[partner] });
      }
    }
  }

  private blankRoom(id: string, kind: RoomKind, me: UserRef): RoomView {
    return {
      id,
      kind,
      title: roomTitle(id, kind, id, this.names, me.id),
      readOnly: false,
      kept: false,
      joined: false,
      timeline: EMPTY_TIMELINE,
      pending: [],
      online: [],
      typing: [],
      unread: 0,
      lastRead: 0,
      loadingOlder: false,
      error: null,
    };
  }

  private room(id: string): RoomView {
    const room = this.state.rooms[id];
    if (room === undefined) throw new Error(`unknown room ${id}`);
    return room;
  }

  private putRoom(room: RoomView): void {
    this.commit({ ...this.state, rooms: { ...this.state.rooms, [room.id]: room } });
  }

  private commit(state: ChatState): void {
    this.state = state;
    for (const listener of [...this.listeners]) listener();
  }
}

/** Messages from others after `lastRead`. */
export function countUnread(timeline: Timeline, lastRead: number, me: string): number {
  let unread = 0;
  for (let i = timeline.messages.length - 1; i >= 0; i--) {
    const message = timeline.messages[i]!;
    if (message.seq <= lastRead) break;
    if (message.user.id !== me) unread++;
  }
  return unread;
}

export function roomTitle(
  id: string,
  kind: RoomKind,
  serverName: string,
  names: Readonly<Record<string, string>>,
  me: string,
): string {
  const partner = dmPartner(id, me);
  if (partner !== null) return names[partner] ?? "Direct message";
  if (kind === "dm") return "Direct message";
  return serverName || id;
}
