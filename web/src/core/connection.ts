// One logical connection to the chat over WebSocket, kept alive across gateway deaths: the
// handshake (`connect`), requests matched to replies by id, keepalive, and reconnecting with
// backoff. Which rooms to rejoin is the caller's business (`onReady` fires after every connect).

import { drainDelay, reconnectDelay } from "./backoff";
import type { CommandType, Commands, Notification, Replies } from "./commands";
import {
  CloseCode,
  ProtocolError,
  parseFrame,
  type ConnectReply,
  type ServerEvent,
} from "./protocol";

export interface SocketHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  onClose(code: number, reason: string): void;
}

export interface SocketLink {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export type OpenSocket = (url: string, handlers: SocketHandlers) => SocketLink;

export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type StopReason = "closed" | "signed_out" | "session_ended";

export type ConnectionState =
  | { phase: "connecting"; attempt: number }
  | { phase: "online" }
  | { phase: "reconnecting"; attempt: number; retryAt: number; reason: string }
  | { phase: "stopped"; reason: StopReason };

/** The token source said the person is signed out: no reconnect can help. */
export class SignedOut extends Error {
  constructor(message = "signed out") {
    super(message);
    this.name = "SignedOut";
  }
}

export interface ConnectionOptions {
  url: string;
  openSocket: OpenSocket;
  clock: Clock;
  random: () => number;
  /** A valid access token; `fresh` asks for a newly refreshed one because the last was refused. */
  accessToken(fresh: boolean): Promise<string>;
  onReady(reply: ConnectReply): void;
  onEvent(event: ServerEvent): void;
  onState(state: ConnectionState): void;
}

// The gateway closes a connection that has not sent `connect` within 10 s; the client gives up a
// little earlier on a silent handshake and tries again.
const CONNECT_TIMEOUT_MS = 8000;
export const REQUEST_TIMEOUT_MS = 15_000;
// Browsers cannot see WebSocket pings; an application ping finds a half-open connection (a
// laptop waking up, a balancer that lost state) within KEEPALIVE + REQUEST_TIMEOUT.
const KEEPALIVE_MS = 25_000;
const PING_TIMEOUT_MS = 10_000;

/** The part of ChatConnection the chat client uses (tests may give it another). */
export interface ConnectionLike {
  readonly online: boolean;
  start(): void;
  stop(): void;
  reconnectNow(): void;
  request<K extends CommandType>(type: K, fields: Commands[K]): Promise<Replies[K]>;
  notify<K extends Notification>(type: K, fields: Commands[K]): boolean;
}

export type CloseDecision =
  | { kind: "retry"; delayMs: number; freshToken: boolean; resetAttempts: boolean }
  | { kind: "stop"; reason: StopReason };

/**
 * What to do after the socket closed with `code`. `attempt` counts reconnects since the last
 * successful connect; `refusedAfterFresh` is true when even a just-refreshed token was refused.
 */
export function decideAfterClose(
  code: number,
  attempt: number,
  refusedAfterFresh: boolean,
  random: () => number,
): CloseDecision {
  switch (code) {
    case CloseCode.unauthorized:
      if (refusedAfterFresh) return { kind: "stop", reason: "session_ended" };
      return { kind: "retry", delayMs: 0, freshToken: true, resetAttempts: false };
    case CloseCode.draining:
      return { kind: "retry", delayMs: drainDelay(random), freshToken: false, resetAttempts: true };
    default:
      return {
        kind: "retry",
        delayMs: reconnectDelay(attempt, random),
        freshToken: false,
        resetAttempts: false,
      };
  }
}

interface InFlight {
  resolve(body: Record<string, unknown>): void;
  reject(error: ProtocolError): void;
  timer: unknown;
}

export class ChatConnection implements ConnectionLike {
  private readonly options: ConnectionOptions;
  private socket: SocketLink | null = null;
  private generation = 0;
  private attempt = 0;
  private nextId = 1;
  private freshToken = false;
  private current: ConnectionState = { phase: "connecting", attempt: 0 };
  private readonly inFlight = new Map<string, InFlight>();
  private retryTimer: unknown = null;
  private keepaliveTimer: unknown = null;
  private handshakeTimer: unknown = null;

  constructor(options: ConnectionOptions) {
    this.options = options;
  }

  get state(): ConnectionState {
    return this.current;
  }

  get online(): boolean {
    return this.current.phase === "online";
  }

  start(): void {
    if (this.current.phase === "stopped") return;
    void this.open();
  }

  /** Ends the connection for good (logout, page teardown). */
  stop(reason: StopReason = "closed"): void {
    this.clearTimers();
    this.dropSocket(CloseCode.normal, "bye");
    this.setState({ phase: "stopped", reason });
  }

  /** Skips the backoff wait (the person pressed "Retry now", or the network came back). */
  reconnectNow(): void {
    if (this.current.phase !== "reconnecting") return;
    this.options.clock.clearTimeout(this.retryTimer);
    void this.open();
  }

  /** Sends a command and resolves with its reply, or rejects with a ProtocolError. */
  request<K extends CommandType>(type: K, fields: Commands[K], timeoutMs = REQUEST_TIMEOUT_MS): Promise<Replies[K]> {
    if (this.current.phase !== "online" || this.socket === null) {
      return Promise.reject(new ProtocolError("disconnected", "not connected"));
    }
    // The reply's shape is the gateway's side of the contract (docs/protocol/asyncapi.yaml), not checked here.
    return this.exchange(this.socket, type, fields, timeoutMs) as Promise<Replies[K]>;
  }

  /** A command without an id: no reply is expected (typing). False when not connected. */
  notify<K extends Notification>(type: K, fields: Commands[K]): boolean {
    if (this.current.phase !== "online" || this.socket === null) return false;
    this.socket.send(JSON.stringify({ type, ...fields }));
    return true;
  }

  /** Hands a newer access token to the gateway before the current one expires. */
  async refreshToken(token: string): Promise<void> {
    if (!this.online) return; // the next connect uses the newest token anyway
    try {
      await this.request("refresh", { token });
    } catch (error) {
      // A refused refresh ends in a 4001 close, which fetches a fresh token and reconnects.
      if (!(error instanceof ProtocolError)) throw error;
    }
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.setState({ phase: "connecting", attempt: this.attempt });
    let token: string;
    try {
      token = await this.options.accessToken(this.freshToken);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof SignedOut) {
        this.stop("signed_out");
        return;
      }
      this.scheduleRetry(reconnectDelay(this.attempt, this.options.random), "cannot reach the sign-in service");
      return;
    }
    if (generation !== this.generation) return;
    const usedFresh = this.freshToken;
    this.freshToken = false;
    const socket = this.options.openSocket(this.options.url, {
      onOpen: () => {
        if (generation === this.generation) this.handshake(socket, token, usedFresh);
      },
      onMessage: (text) => {
        if (generation === this.generation) this.receive(text);
      },
      onClose: (code, reason) => {
        if (generation === this.generation) this.closed(code, reason, usedFresh);
      },
    });
    this.socket = socket;
    this.handshakeTimer = this.options.clock.setTimeout(() => {
      if (generation === this.generation && this.current.phase === "connecting") {
        this.dropSocket(CloseCode.normal, "connect timeout");
        this.closed(CloseCode.connectTimeout, "connect timeout", usedFresh);
      }
    }, CONNECT_TIMEOUT_MS);
  }

  private handshake(socket: SocketLink, token: string, usedFresh: boolean): void {
    this.exchange(socket, "connect", { token }, CONNECT_TIMEOUT_MS).then(
      (reply) => {
        if (socket !== this.socket) return;
        this.options.clock.clearTimeout(this.handshakeTimer);
        this.attempt = 0;
        this.setState({ phase: "online" });
        this.scheduleKeepalive();
        this.options.onReady(reply as unknown as ConnectReply);
      },
      (error: ProtocolError) => {
        if (socket !== this.socket) return;
        const code = error.code === "unauthorized" ? CloseCode.unauthorized : CloseCode.abnormal;
        this.dropSocket(CloseCode.normal, "connect refused");
        this.closed(code, error.message, usedFresh);
      },
    );
  }

  private exchange(
    socket: SocketLink,
    type: CommandType,
    fields: Commands[CommandType],
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = this.options.clock.setTimeout(() => {
        this.inFlight.delete(id);
        reject(new ProtocolError("timeout", `${type} got no answer`));
      }, timeoutMs);
      this.inFlight.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ type, id, ...fields }));
    });
  }

  private receive(text: string): void {
    const frame = parseFrame(text);
    if (frame === null) return;
    if (frame.kind === "event") {
      if (frame.event.type === "reconnect") this.moveSoon();
      this.options.onEvent(frame.event);
      return;
    }
    if (frame.id === undefined) return; // an error about a command sent without an id (typing)
    const waiting = this.inFlight.get(frame.id);
    if (waiting === undefined) return;
    this.inFlight.delete(frame.id);
    this.options.clock.clearTimeout(waiting.timer);
    if (frame.kind === "reply") waiting.resolve(frame.body);
    else waiting.reject(frame.error);
  }

  /** The gateway is draining: move to another one soon, spread out so not everyone lands at once. */
  private moveSoon(): void {
    const generation = this.generation;
    this.options.clock.setTimeout(() => {
      if (generation !== this.generation || !this.online) return;
      this.dropSocket(CloseCode.normal, "moving to another gateway");
      this.attempt = 0;
      void this.open();
    }, drainDelay(this.options.random));
  }

  private closed(code: number, reason: string, usedFresh: boolean): void {
    // A just-refreshed token refused at the handshake means the session is gone; a refusal later
    // on (expiry, revocation) first tries a fresh token, which fails with SignedOut if revoked.
    const refusedAfterFresh =
      code === CloseCode.unauthorized && usedFresh && this.current.phase !== "online";
    this.socket = null;
    this.generation++;
    this.clearTimers();
    this.failInFlight();
    const decision = decideAfterClose(code, this.attempt, refusedAfterFresh, this.options.random);
    if (decision.kind === "stop") {
      this.setState({ phase: "stopped", reason: decision.reason });
      return;
    }
    this.freshToken = decision.freshToken;
    if (decision.resetAttempts) this.attempt = 0;
    this.scheduleRetry(decision.delayMs, reason || `closed (${code})`);
  }

  private scheduleRetry(delayMs: number, reason: string): void {
    const attempt = this.attempt++;
    const retryAt = this.options.clock.now() + delayMs;
    this.setState({ phase: "reconnecting", attempt, retryAt, reason });
    this.retryTimer = this.options.clock.setTimeout(() => void this.open(), delayMs);
  }

  private scheduleKeepalive(): void {
    this.keepaliveTimer = this.options.clock.setTimeout(() => {
      const socket = this.socket;
      if (!this.online || socket === null) return;
      this.exchange(socket, "ping", {}, PING_TIMEOUT_MS).then(
        () => {
          if (socket === this.socket) this.scheduleKeepalive();
        },
        () => {
          if (socket !== this.socket) return;
          this.dropSocket(CloseCode.normal, "ping timeout");
          this.closed(CloseCode.abnormal, "no answer to ping", false);
        },
      );
    }, KEEPALIVE_MS);
  }

  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.generation++;
    this.failInFlight();
    if (socket !== null) {
      try {
        socket.close(code, reason);
      } catch {
        // Closing an already closed socket: nothing left to do.
      }
    }
  }

  private failInFlight(): void {
    const waiting = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const request of waiting) {
      this.options.clock.clearTimeout(request.timer);
      request.reject(new ProtocolError("disconnected", "the connection closed"));
    }
  }

  private clearTimers(): void {
    for (const timer of [this.retryTimer, this.keepaliveTimer, this.handshakeTimer]) {
      this.options.clock.clearTimeout(timer);
    }
    this.retryTimer = this.keepaliveTimer = this.handshakeTimer = null;
  }

  private setState(state: ConnectionState): void {
    this.current = state;
    this.options.onState(state);
  }
}
