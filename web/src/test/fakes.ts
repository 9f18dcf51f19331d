// In-memory stand-ins for the clock and the gateway, for unit tests of the client's state logic.
// The real gateway is exercised by the end-to-end test in tests/e2e.

import type { Clock, OpenSocket, SocketHandlers, SocketLink } from "../core/connection";
import type { ChatMessage, UserRef } from "../core/protocol";

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

/**
 * A gateway in miniature: rooms with seqs, catch-up within a window, history, dedup of
 * client_msg_id. It answers the commands on whichever socket the client currently uses.
 */
export class FakeGateway {
  readonly rooms = new Map<string, ChatMessage[]>();
  readonly members = new Map<string, Set<FakeSocket>>();
  readonly sendsSeen: Command[] = [];
  /** Catch-up covers at most this many messages; more gives `recovered: false`. */
  window = 1000;
  /** When set, `send` is answered with this error code instead of storing. */
  failSends: string | null = null;
  /** When false, commands are recorded but not answered (a request in flight). */
  answering = true;
  /** When true, commands take effect but nothing reaches the client (a connection dying). */
  mute = false;
  private readonly seen = new Map<string, ChatMessage>();
  private nextId = 1;

  constructor(
    private readonly clock: FakeClock,
    readonly user: UserRef,
  ) {}

  /** Handles everything the socket has sent since the last call. */
  serve(socket: FakeSocket): void {
    const start = this.cursor.get(socket) ?? 0;
    const commands = socket.sent.slice(start);
    if (!this.answering) return;
    this.cursor.set(socket, socket.sent.length);
    for (const command of commands) this.answer(socket, command);
  }

  private readonly cursor = new Map<FakeSocket, number>();

  /** Another person posts: stored and delivered to every joined socket. */
  post(room: string, body: string, from: UserRef = { id: "u-bob", name: "bob" }, clientMsgId = `x-${this.nextId}`): ChatMessage {
    const message = this.store(room, body, from, clientMsgId);
    for (const socket of this.members.get(room) ?? []) {
      if (socket.closed === null && !this.mute) socket.push({ type: "message", message });
    }
    return message;
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
    messages.push(message);
    this.rooms.set(room, messages);
    return message;
  }

  private answer(socket: FakeSocket, command: Command): void {
    const room = String(command.room ?? "");
    const messages = this.rooms.get(room) ?? [];
    switch (command.type) {
      case "connect":
        socket.reply(command, {
          user: { ...this.user, roles: ["member"] },
          session: "s1",
          server_time: new Date(this.clock.now()).toISOString(),
          limits: { max_frame_bytes: 65536, max_body_chars: 4000, send_rate_per_s: 5 },
        });
        break;
      case "join": {
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
        const older = messages.filter((m) => m.seq < before);
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
          message = this.post(room, String(command.body), this.user, key);
          this.seen.set(key, message);
        }
        if (!this.mute) socket.reply(command, { message });
        break;
      }
      case "leave":
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
