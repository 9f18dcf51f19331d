// In-memory stand-ins for the clock and the gateway, for unit tests of the client's state logic.
// The real gateway is exercised by the end-to-end test in tests/e2e.

import type { AttachmentLink, AttachmentVariant, MemberList, RoomKind, RoomTopic, UploadRequest, UploadTicket } from "../core/api";
import type { SearchPage } from "../core/messageSearch";
import type { Clock, OpenSocket, SocketHandlers, SocketLink } from "../core/connection";
import { ProtocolError, type Attachment, type ChatMessage, type ErrorCode, type MyRoom, type ReplyTo, type UserRef } from "../core/protocol";
import { TransferError, type LocalFile, type PutFile, type Transfer } from "../core/uploads";

interface Timer {
  at: number;
  run: () => void;
  handle: number;
}

export class FakeClock implements Clock {
  private time = Date.UTC(2025, 2, 14, 12, 0, 0);
  private timers: Timer[] = [];
  private nextHandle = 1;

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.timers.push({ at: this.time + Math.max(0, ms), run, handle });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }

  /** Moves time forward, running every timer that falls due, and lets promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.run();
    }
    this.time = end;
    await settle();
  }
}

/** Lets every queued promise callback run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

type Command = Record<string, unknown> & { type: string; id?: string };

export class FakeSocket implements SocketLink {
  readonly sent: Command[] = [];
  closed: { code: number; reason: string } | null = null;
  private readonly handlers: SocketHandlers;

  constructor(handlers: SocketHandlers) {
    this.handlers = handlers;
  }

  send(text: string): void {
    this.sent.push(JSON.parse(text) as Command);
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  // The server's side:
  open(): void {
    this.handlers.onOpen();
  }

  push(frame: Record<string, unknown>): void {
    this.handlers.onMessage(JSON.stringify(frame));
  }

  reply(command: Command, fields: Record<string, unknown> = {}): void {
    this.push({ type: "reply", id: command.id, ...fields });
  }

  error(command: Command, code: string, extra: Record<string, unknown> = {}): void {
    this.push({ type: "error", id: command.id, code, message: code, ...extra });
  }

  drop(code: number, reason = ""): void {
    this.handlers.onClose(code, reason);
  }

  last(type: string): Command {
    const found = [...this.sent].reverse().find((c) => c.type === type);
    if (found === undefined) throw new Error(`no ${type} sent; sent: ${this.sent.map((c) => c.type).join(",")}`);
    return found;
  }
}

/** Records every socket the client opens, so a test can act as the server on each. */
export class SocketRecorder {
  readonly sockets: FakeSocket[] = [];
  readonly urls: string[] = [];

  open: OpenSocket = (url, handlers) => {
    const socket = new FakeSocket(handlers);
    this.urls.push(url);
    this.sockets.push(socket);
    return socket;
  };

  get latest(): FakeSocket {
    const socket = this.sockets[this.sockets.length - 1];
    if (socket === undefined) throw new Error("no socket opened");
    return socket;
  }
}

/** A room `user` belongs to, as the gateway records it (room_members, rooms.topic). */
export interface Membership {
  kind: RoomKind;
  role: string;
  topic: string;
  readOnly: boolean;
}

/**
 * A gateway in miniature: rooms with seqs, catch-up within a window, history, dedup of
 * client_msg_id; and the person's side of version 2: the rooms `user` belongs to (a public join
 * records it, a leave removes it), read marks (monotonic, clamped, an author has read what they
 * wrote), `@name` mentions, the people directory and member lists, a room's topic (set by its
 * staff over HTTP, told to its joined connections as the `room` event), and the person's channel
 * (`rooms`, `read`, `mention` events to every connection of the user). It answers the commands
 * on whichever socket the client currently uses; several clients (devices) may share one.
 */
export class FakeGateway {
  readonly rooms = new Map<string, ChatMessage[]>();
  readonly members = new Map<string, Set<FakeSocket>>();
  /** The rooms `user` belongs to. */
  readonly memberships = new Map<string, Membership>();
  /** `user`'s read marks. */
  readonly readMarks = new Map<string, number>();
  /** The people directory: everyone with an account. */
  readonly people: UserRef[] = [];
  /** Others in each room, with their role (the member list adds `user` for their memberships). */
  readonly roomPeople = new Map<string, { user: UserRef; role: string }[]>();
  /** Who is online besides `user`'s own connections. */
  readonly onlineIds = new Set<string>();
  /** `user`'s global roles, as the connect reply gives them. */
  roles: string[] = ["member"];
  /** Every `PATCH /v1/rooms/{room}` received, in order, refused ones too. */
  readonly patchesSeen: { room: string; body: Record<string, unknown> }[] = [];
  /** Every `read` command received, in order. */
  readonly readsSeen: { room: string; seq: number }[] = [];
  private readonly connected = new Set<FakeSocket>();
  readonly sendsSeen: Command[] = [];
  /** Catch-up covers at most this many messages; more gives `recovered: false`. */
  window = 1000;
  /** When set, `send` is answered with this error code instead of storing. */
  failSends: string | null = null;
  /** When set, `edit`, `delete` and `react` are refused with this error (code and words). */
  failActions: { code: string; message: string } | null = null;
  /** When false, commands are recorded but not answered (a request in flight). */
  answering = true;
  /** When true, commands take effect but nothing reaches the client (a connection dying). */
  mute = false;
  /** Rooms that exist and are private: joining one without being a member is forbidden. */
  readonly privateRooms = new Set<string>();
  private readonly seen = new Map<string, ChatMessage>();
  private nextId = 1;
  /** Uploads announced by `user`, by id: whether the bytes arrived, and the message that claimed it. */
  readonly uploads = new Map<string, FakeUpload>();
  /** The gateway's `upload_max_bytes`. */
  uploadMaxBytes = 25 * 1024 * 1024;
  /** When set, announcing an upload is refused with this error. */
  failUploads: { code: ErrorCode; message: string; retryAfterMs?: number } | null = null;
  /** Every link to an attachment asked for, in order. */
  readonly linksAsked: { room: string; id: string; variant: AttachmentVariant }[] = [];

  constructor(
    private readonly clock: FakeClock,
    readonly user: UserRef,
  ) {
    this.people.push(user, { id: "u-bob", name: "bob" });
  }

  /** Handles everything the socket has sent since the last call. */
  serve(socket: FakeSocket): void {
    const start = this.cursor.get(socket) ?? 0;
    const commands = socket.sent.slice(start);
    if (!this.answering) return;
    this.cursor.set(socket, socket.sent.length);
    for (const command of commands) this.answer(socket, command);
  }

  private readonly cursor = new Map<FakeSocket, number>();

  /** Another person posts: stored and delivered to every joined socket; `user` named in it hears. */
  post(
    room: string,
    body: string,
    from: UserRef = { id: "u-bob", name: "bob" },
    clientMsgId = `x-${this.nextId}`,
    replyTo?: ReplyTo,
    attachments?: Attachment[],
  ): ChatMessage {
    const message = this.store(room, body, from, clientMsgId);
    if (replyTo !== undefined) message.reply_to = replyTo;
    if (attachments !== undefined && attachments.length > 0) {
      message.attachments = attachments;
      if (body === "") delete message.body; // a message of files alone
    }
    const joined = this.members.get(room) ?? new Set();
    for (const socket of joined) {
      if (socket.closed === null && !this.mute) socket.push({ type: "message", message });
    }
    if (message.mentions?.includes(this.user.id)) {
      for (const socket of this.sockets()) {
        if (!joined.has(socket)) socket.push({ type: "mention", room, message });
      }
    }
    return message;
  }

  /** `user` now belongs to a room (added to a private one, a DM started to them, joined elsewhere). */
  addToRoom(room: string, kind: RoomKind, role = "member", topic = ""): void {
    this.rooms.set(room, this.rooms.get(room) ?? []);
    this.memberships.set(room, { kind, role, topic, readOnly: false });
    this.tellPerson({ type: "rooms", added: [this.myRoom(room)], removed: [] });
  }

  /** `user` no longer belongs to a room (left elsewhere, kicked). */
  removeFromRoom(room: string): void {
    if (!this.memberships.delete(room)) return;
    this.tellPerson({ type: "rooms", added: [], removed: [room] });
  }

  /** `user` read a room up to `seq` (on this device or another): monotonic, clamped to the newest. */
  markRead(room: string, seq: number): void {
    const newest = (this.rooms.get(room) ?? []).length;
    const mark = Math.max(this.readMarks.get(room) ?? 0, Math.min(seq, newest));
    this.readMarks.set(room, mark);
    this.tellPerson({ type: "read", room, seq: mark });
  }

  /** GET /v1/me/rooms */
  myRooms(): MyRoom[] {
    return [...this.memberships.keys()].map((room) => this.myRoom(room));
  }

  /** GET /v1/users?prefix= */
  findPeople(prefix: string, limit = 20): UserRef[] {
    return this.people
      .filter((p) => p.name.startsWith(prefix))
      .sort((a, b) => a.name.localeCompare(b.name))
      .slice(0, limit);
  }

  /**
   * GET /v1/search: messages of `user`'s rooms (or `room`) holding the word, newest first; the
   * cursor is the "room/seq" of the last hit given. A query that is only spaces is refused.
   */
  search(query: string, room: string | null, before: string | null, limit = 20): SearchPage {
    const word = query.trim().toLowerCase();
    if (word === "") throw new ProtocolError("bad_request", "q is empty");
    this.searchesSeen.push({ query, room, before });
    const rooms = room === null ? [...this.memberships.keys()] : [room];
    const hits = rooms
      .flatMap((id) => this.rooms.get(id) ?? [])
      .filter((m) => m.kind === undefined && (m.body ?? "").toLowerCase().split(/\W+/).includes(word))
      .sort((a, b) => b.ts.localeCompare(a.ts) || b.room.localeCompare(a.room) || b.seq - a.seq);
    const start = before === null ? 0 : hits.findIndex((m) => `${m.room}/${m.seq}` === before) + 1;
    const page = hits.slice(start, start + limit);
    const last = page.at(-1);
    return {
      hits: page.map((message) => {
        const text = message.body ?? "";
        const at = Array.from(text.toLowerCase()).join("").indexOf(word);
        return { message, excerpt: { text, matches: at < 0 ? [] : [[Array.from(text.slice(0, at)).length, word.length]] } };
      }),
      next: last !== undefined && start + limit < hits.length ? `${last.room}/${last.seq}` : null,
    };
  }

  /** Every search asked, in order. */
  readonly searchesSeen: { query: string; room: string | null; before: string | null }[] = [];

  /** GET /v1/rooms/{room}/members */
  memberList(room: string): MemberList {
    const others = this.roomPeople.get(room) ?? [];
    const mine = this.memberships.get(room);
    const all = mine === undefined ? others : [{ user: this.user, role: mine.role }, ...others];
    const online = (id: string): boolean => this.onlineIds.has(id) || (id === this.user.id && this.sockets().length > 0);
    return { members: all.map(({ user, role }) => ({ ...user, role, online: online(user.id) })), more: false };
  }

  /**
   * PATCH /v1/rooms/{room} {"topic"} by `user`: the room's owner or a moderator, or a global
   * moderator or admin, may; the answer is the room's id and topic, or the gateway's error.
   */
  patchRoom(room: string, topic: string): RoomTopic {
    this.patchesSeen.push({ room, body: { topic } });
    if (room.startsWith("dm:")) throw new ProtocolError("not_found", "a direct message has no topic");
    const role = this.memberships.get(room)?.role;
    const staff = role === "owner" || role === "moderator" || this.roles.some((r) => r === "moderator" || r === "admin");
    if (!staff) throw new ProtocolError("forbidden", "only the room's owner or a moderator may do that");
    if ([...topic].length > 250 || /[\n\r]/.test(topic)) {
      throw new ProtocolError("bad_request", "Expected `str` of length <= 250 - at `$.topic`");
    }
    this.topicSet(room, topic, this.user);
    return { id: room, topic };
  }

  /** The room's topic was set (by `by`, from anywhere): every connection joined to it hears. */
  topicSet(room: string, topic: string, by: UserRef = { id: "u-bob", name: "bob" }): void {
    const membership = this.memberships.get(room);
    if (membership !== undefined) membership.topic = topic;
    if (this.mute) return;
    for (const socket of this.members.get(room) ?? []) {
      if (socket.closed === null) socket.push({ type: "room", room, topic, user: by });
    }
  }

  /** DELETE /v1/me/rooms/{room} */
  leave(room: string): void {
    this.removeFromRoom(room);
  }

  private myRoom(room: string): MyRoom {
    const membership = this.memberships.get(room)!;
    const messages = this.rooms.get(room) ?? [];
    const read = this.readMarks.get(room) ?? 0;
    return {
      id: room,
      kind: membership.kind,
      read_only: membership.readOnly,
      topic: membership.topic,
      role: membership.role,
      last_seq: messages.length,
      read_seq: read,
      unread: Math.max(0, messages.length - read),
      mentions: messages.filter((m) => m.seq > read && m.mentions?.includes(this.user.id)).length,
    };
  }

  private sockets(): FakeSocket[] {
    return [...this.connected].filter((socket) => socket.closed === null);
  }

  /** The person's channel: every connection of `user`. */
  private tellPerson(event: Record<string, unknown>): void {
    if (this.mute) return;
    for (const socket of this.sockets()) socket.push(event);
  }

  /** `@name` of someone in the people directory. */
  private mentionsIn(body: string): string[] {
    if (!body.includes("@")) return [];
    return this.people.filter((p) => new RegExp(`(^|\\W)@${p.name}\\b`).test(body)).map((p) => p.id);
  }

  /**
   * `user`'s edit, delete or reaction: an entry of the log after the messages, delivered like one.
   * A reaction toggles as the gateway's does: `on: false` when `user` holds that emoji already.
   */
  postEvent(room: string, command: Command, from: UserRef = this.user): ChatMessage {
    const log = this.rooms.get(room) ?? [];
    const target = String(command.message_id);
    const kind = command.type === "react" ? "reaction" : String(command.type);
    const entry: ChatMessage = {
      id: `m${this.nextId++}`,
      room,
      seq: log.length + 1,
      user: from,
      ts: new Date(this.clock.now()).toISOString(),
      client_msg_id: String(command.client_msg_id ?? `x-${this.nextId}`),
      kind,
      target,
    };
    if (kind === "edit") {
      entry.body = String(command.body);
      entry.edited_at = entry.ts;
    } else if (kind === "reaction") {
      const emoji = String(command.emoji);
      const mine = log.filter((e) => e.kind === "reaction" && e.target === target && e.emoji === emoji && e.user.id === from.id);
      entry.emoji = emoji;
      entry.on = mine.at(-1)?.on !== true;
    }
    log.push(entry);
    this.rooms.set(room, log);
    for (const socket of this.members.get(room) ?? []) {
      if (socket.closed === null && !this.mute) socket.push({ type: "message", message: entry });
    }
    return entry;
  }

  /** POST /v1/rooms/{room}/uploads by `user`. */
  createUpload(room: string, request: UploadRequest): UploadTicket {
    if (this.failUploads !== null) {
      const { code, message, retryAfterMs } = this.failUploads;
      throw new ProtocolError(code, message, retryAfterMs);
    }
    if (request.size > this.uploadMaxBytes) {
      throw new ProtocolError("too_large", `a file may be at most ${this.uploadMaxBytes} bytes; this one is ${request.size}`);
    }
    const id = `up-${this.nextId++}`;
    this.uploads.set(id, { id, room, ...request, stored: false, claimedBy: null });
    return {
      id,
      url: `https://chat.test/chat-attachments/originals/${id}?X-Amz-Signature=s${id}`,
      method: "PUT",
      headers: { "Content-Type": request.type },
      expiresAt: new Date(this.clock.now() + 300_000).toISOString(),
    };
  }

  /**
   * The media step processed a message's images: each named attachment gets `changes` (its size
   * and thumbnail, or `image: false` for one it could not decode), told as an `attachment` event
   * by the message's author, like the gateway's internal route makes it.
   */
  processed(room: string, messageId: string, changes: Record<string, Partial<Attachment>>): ChatMessage {
    const log = this.rooms.get(room) ?? [];
    const target = log.find((m) => m.id === messageId);
    if (target === undefined) throw new Error(`no message ${messageId}`);
    const current = this.attachmentsOf(room, messageId) ?? [];
    const attachments = current.filter((a) => changes[a.id] !== undefined).map((a) => ({ ...a, ...changes[a.id] }));
    const entry: ChatMessage = {
      id: `m${this.nextId++}`,
      room,
      seq: log.length + 1,
      user: target.user,
      ts: new Date(this.clock.now()).toISOString(),
      client_msg_id: `media-${messageId}-${log.length + 1}`,
      kind: "attachment",
      target: messageId,
      attachments,
    };
    log.push(entry);
    for (const socket of this.members.get(room) ?? []) {
      if (socket.closed === null && !this.mute) socket.push({ type: "message", message: entry });
    }
    return entry;
  }

  /**
   * GET /v1/rooms/{room}/attachments/{id}?variant=: a link while the file is an attachment of a
   * message of the room that is not deleted; a thumbnail only once made, an image's original only
   * once processed (409 `not_ready` before).
   */
  attachmentLink(room: string, id: string, variant: AttachmentVariant): AttachmentLink {
    this.linksAsked.push({ room, id, variant });
    const owner = (this.rooms.get(room) ?? []).find((m) => m.attachments?.some((a) => a.id === id) && m.kind === undefined);
    const attachment = owner === undefined ? undefined : this.attachmentsOf(room, owner.id)?.find((a) => a.id === id);
    if (attachment === undefined) throw new ProtocolError("not_found", "no such attachment");
    if (variant === "thumbnail" && attachment.thumbnail !== true) throw new ProtocolError("not_found", "no thumbnail");
    if (variant === "original" && attachment.image && attachment.thumbnail !== true) {
      throw new ProtocolError("not_ready", "the image is being processed");
    }
    const key = variant === "thumbnail" ? `thumbnails/${id}.webp` : `originals/${id}`;
    return {
      url: `https://chat.test/chat-attachments/${key}?X-Amz-Signature=${this.linksAsked.length}`,
      expiresAt: new Date(this.clock.now() + 300_000).toISOString(),
    };
  }

  /** A message's attachments now: as sent, with the `attachment` events after it; none once deleted. */
  attachmentsOf(room: string, messageId: string): Attachment[] | undefined {
    let current: Attachment[] | undefined;
    for (const entry of this.rooms.get(room) ?? []) {
      if (entry.id === messageId && entry.kind === undefined) current = entry.attachments;
      else if (entry.target === messageId && entry.kind === "delete") current = undefined;
      else if (entry.target === messageId && entry.kind === "attachment" && current !== undefined) {
        const changed = new Map((entry.attachments ?? []).map((a) => [a.id, a]));
        current = current.map((a) => changed.get(a.id) ?? a);
      }
    }
    return current;
  }

  /**
   * The attachments of a `send`, checked as the gateway checks them: each upload `user`'s, for
   * this room, its bytes stored, not claimed by another message. A string is the refusal.
   */
  private claim(room: string, key: string, wanted: unknown): Attachment[] | string {
    if (!Array.isArray(wanted)) return "attachments must be a list";
    const found: FakeUpload[] = [];
    for (const item of wanted as { upload_id?: unknown }[]) {
      const upload = this.uploads.get(String(item?.upload_id));
      if (upload === undefined || upload.room !== room) return `unknown upload ${String(item?.upload_id)}`;
      if (!upload.stored) return `upload ${upload.id} is not uploaded yet`;
      if (upload.claimedBy !== null && upload.claimedBy !== key) return `upload ${upload.id} is attached to another message`;
      found.push(upload);
    }
    for (const upload of found) upload.claimedBy = key;
    return found.map(({ id, name, type, size }) => ({ id, name, type, size, image: RASTER.test(type) }));
  }

  /** Stores a message without delivering it (sent while a client was away). */
  store(room: string, body: string, from: UserRef, clientMsgId: string): ChatMessage {
    const messages = this.rooms.get(room) ?? [];
    const message: ChatMessage = {
      id: `m${this.nextId++}`,
      room,
      seq: messages.length + 1,
      user: from,
      body,
      ts: new Date(this.clock.now()).toISOString(),
      client_msg_id: clientMsgId,
    };
    const mentions = this.mentionsIn(body);
    if (mentions.length > 0) message.mentions = mentions;
    messages.push(message);
    this.rooms.set(room, messages);
    // One has read what one wrote.
    if (from.id === this.user.id) this.readMarks.set(room, Math.max(this.readMarks.get(room) ?? 0, message.seq));
    return message;
  }

  private answer(socket: FakeSocket, command: Command): void {
    const room = String(command.room ?? "");
    const messages = this.rooms.get(room) ?? [];
    switch (command.type) {
      case "connect":
        this.connected.add(socket);
        socket.reply(command, {
          user: { ...this.user, roles: this.roles },
          session: "s1",
          server_time: new Date(this.clock.now()).toISOString(),
          limits: { max_frame_bytes: 65536, max_body_chars: 4000, send_rate_per_s: 5 },
        });
        break;
      case "join": {
        const membership = this.memberships.get(room);
        if (membership === undefined && (room.startsWith("dm:") || this.privateRooms.has(room))) {
          if (!room.startsWith("dm:")) {
            socket.error(command, "forbidden");
            break;
          }
          this.addToRoom(room, "dm"); // a DM comes to be when one of its two joins it
        } else if (membership === undefined) {
          this.addToRoom(room, "public"); // joining a public room records the membership
        }
        const members = this.members.get(room) ?? new Set();
        members.add(socket);
        this.members.set(room, members);
        this.rooms.set(room, messages);
        const since = typeof command.since === "number" ? command.since : undefined;
        const after = since === undefined ? [] : messages.filter((m) => m.seq > since);
        const recovered = after.length <= this.window;
        socket.reply(command, {
          room,
          last_seq: messages.length,
          online: [this.user],
          messages: recovered ? after : [],
          recovered,
        });
        break;
      }
      case "history": {
        const before = typeof command.before === "number" ? command.before : Infinity;
        const limit = typeof command.limit === "number" ? command.limit : 50;
        // History lists messages only; this fake does not fold events into them.
        const older = messages.filter((m) => m.seq < before && m.kind === undefined);
        socket.reply(command, { messages: older.slice(-limit), has_more: older.length > limit });
        break;
      }
      case "send": {
        this.sendsSeen.push(command);
        if (this.failSends !== null) {
          socket.error(command, this.failSends, { retry_after_ms: 500 });
          break;
        }
        const key = String(command.client_msg_id);
        let message = this.seen.get(key);
        if (message === undefined) {
          let attachments: Attachment[] | undefined;
          if (command.attachments !== undefined) {
            const claimed = this.claim(room, key, command.attachments);
            if (typeof claimed === "string") {
              socket.error(command, "bad_request", { message: claimed });
              break;
            }
            attachments = claimed;
          }
          const answered = messages.find((m) => m.id === command.reply_to);
          const replyTo = answered === undefined ? undefined : { id: answered.id, user: answered.user, excerpt: answered.body ?? "" };
          message = this.post(room, command.body === undefined ? "" : String(command.body), this.user, key, replyTo, attachments);
          this.seen.set(key, message);
        }
        if (!this.mute) socket.reply(command, { message });
        break;
      }
      case "edit":
      case "delete":
      case "react": {
        this.sendsSeen.push(command);
        if (this.failActions !== null) {
          socket.error(command, this.failActions.code, { message: this.failActions.message });
          break;
        }
        const key = String(command.client_msg_id);
        let entry = this.seen.get(key);
        if (entry === undefined) {
          entry = this.postEvent(room, command);
          this.seen.set(key, entry);
        }
        if (!this.mute) socket.reply(command, { message: entry });
        break;
      }
      case "read": {
        const seq = Number(command.seq);
        if (!Number.isInteger(seq) || seq < 0) {
          socket.error(command, "bad_request");
          break;
        }
        if (!this.memberships.has(room)) {
          socket.error(command, "forbidden");
          break;
        }
        this.readsSeen.push({ room, seq });
        socket.reply(command, {});
        this.markRead(room, seq);
        break;
      }
      case "leave":
        this.members.get(room)?.delete(socket);
        this.removeFromRoom(room);
        socket.reply(command, {});
        break;
      case "typing":
      case "ping":
      case "refresh":
        if (command.id !== undefined) socket.reply(command, {});
        break;
      default:
        socket.error(command, "bad_request");
    }
  }
}

/** An upload as the fake gateway records it. */
export interface FakeUpload extends UploadRequest {
  id: string;
  room: string;
  /** The bytes reached the store. */
  stored: boolean;
  /** The client_msg_id of the message that claimed it. */
  claimedBy: string | null;
}

// What the gateway marks `image`: rasters the app previews (an SVG is a file).
const RASTER = /^image\/(png|jpeg|gif|webp)$/;

/** One PUT to the fake store: the test moves it on (progress), ends it, or fails it. */
export class FakeTransfer implements Transfer {
  readonly done: Promise<void>;
  aborted = false;
  private resolve!: () => void;
  private reject!: (error: TransferError) => void;

  constructor(
    readonly ticket: UploadTicket,
    readonly file: LocalFile,
    private readonly onProgress: (sent: number) => void,
    private readonly stored: () => void,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  progress(sent: number): void {
    this.onProgress(sent);
  }

  finish(): void {
    this.onProgress(this.file.size);
    this.stored();
    this.resolve();
  }

  fail(reason: "network" | "refused", status = 0): void {
    this.reject(new TransferError(reason, status));
  }

  abort(): void {
    this.aborted = true;
    this.reject(new TransferError("aborted"));
  }
}

/**
 * The object store in miniature: each PUT is a FakeTransfer a test moves by hand, or, with `auto`,
 * one that lands at once; a landed one marks its upload stored in the fake gateway.
 */
export class FakeStore {
  readonly transfers: FakeTransfer[] = [];
  auto = true;

  constructor(private readonly gateway: FakeGateway) {}

  put: PutFile = (ticket, file, onProgress) => {
    const upload = this.gateway.uploads.get(ticket.id);
    const transfer = new FakeTransfer(ticket, file, onProgress, () => {
      if (upload !== undefined) upload.stored = true;
    });
    this.transfers.push(transfer);
    if (this.auto) queueMicrotask(() => transfer.finish());
    return transfer;
  };

  get latest(): FakeTransfer {
    const transfer = this.transfers.at(-1);
    if (transfer === undefined) throw new Error("nothing was uploaded");
    return transfer;
  }
}
