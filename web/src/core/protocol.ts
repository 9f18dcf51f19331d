// The wire contract as the client sees it: frame shapes, error and close codes, frame parsing.

export interface UserRef {
  id: string;
  name: string;
}

/** The message a message answers, as it was when the answer was sent. */
export interface ReplyTo {
  id: string;
  user: UserRef;
  /** Its text then, cut at 200 characters; absent once it has been deleted. */
  excerpt?: string;
  deleted?: boolean;
}

/** One emoji on a message: how many people put it there, and whether the reader is one of them. */
export interface Reaction {
  emoji: string;
  count: number;
  me: boolean;
}

/**
 * A file attached to a message (docs/protocol.md, "Attachments"). `type` is the content type the
 * gateway sniffed from the file's first bytes; `image` says the app may preview it (PNG, JPEG,
 * GIF, WebP only: an SVG or an HTML file is a file). `width`, `height` and `thumbnail` arrive once
 * the media step has processed an image, with the `attachment` event.
 */
export interface Attachment {
  /** The upload's id. */
  id: string;
  name: string;
  type: string;
  /** Bytes. */
  size: number;
  image: boolean;
  width?: number;
  height?: number;
  /** A thumbnail is stored: `GET /v1/rooms/{room}/attachments/{id}?variant=thumbnail`. */
  thumbnail?: boolean;
}

/** What a log entry that is not a message does to the message it names (`target`). */
export type EventKind = "edit" | "delete" | "reaction" | "attachment";

/**
 * One entry of a room's log: a message (no `kind`), or an event that changes one (docs/protocol.md,
 * "Edits, deletes, reactions and replies"). A message the client holds is in its current state:
 * the events after it folded in (core/roomLog.ts).
 */
export interface ChatMessage {
  id: string;
  room: string;
  seq: number;
  user: UserRef;
  /** Absent on a deleted message and on a `delete` or `reaction` entry. */
  body?: string;
  ts: string;
  client_msg_id: string;
  /** The ids of the room's members named with `@username` in the body; absent when none. */
  mentions?: string[];
  reply_to?: ReplyTo;
  /** Absent on a message; a kind this client does not know is ignored. */
  kind?: string;
  /** The message an event changes. */
  target?: string;
  /** An edit: when it was made; a message: when its text was last changed. */
  edited_at?: string;
  emoji?: string;
  /** A reaction: added (true) or taken back (false). */
  on?: boolean;
  /** A message that was deleted: no body, reactions or mentions any more. */
  deleted?: boolean;
  reactions?: Reaction[];
  /** The seq of the newest event this message's state holds; absent: none. */
  updated_seq?: number;
  /**
   * A message: its files, absent when none (and on a deleted message). An `attachment` event:
   * those of the target that changed, each complete.
   */
  attachments?: Attachment[];
}

export interface Limits {
  max_frame_bytes: number;
  max_body_chars: number;
  send_rate_per_s: number;
}

export interface ConnectReply {
  user: UserRef & { roles: string[] };
  session: string;
  server_time: string;
  limits: Limits;
}

export interface JoinReply {
  room: string;
  last_seq: number;
  online: UserRef[];
  messages: ChatMessage[];
  recovered: boolean;
}

export interface HistoryPage {
  messages: ChatMessage[];
  has_more: boolean;
}

export interface SendReply {
  message: ChatMessage;
}

export interface PresenceReply {
  online: UserRef[];
}

/** A room the person belongs to, as `GET /v1/me/rooms` and the `rooms` event give it. */
export interface MyRoom {
  id: string;
  kind: "public" | "private" | "dm";
  read_only: boolean;
  topic?: string | null;
  role?: string | null;
  last_seq: number;
  /** The person's read marker: every message up to this seq is read, on every device. */
  read_seq: number;
  unread: number;
  mentions: number;
}

export type ServerEvent =
  | { type: "message"; message: ChatMessage }
  | { type: "presence"; room: string; user: UserRef; state: "online" | "offline" }
  | { type: "typing"; room: string; user: UserRef }
  | { type: "kicked"; room: string; reason: string }
  | { type: "reconnect"; reason: string }
  // To every connection joined to the room: its staff set its topic ("" cleared it).
  | { type: "room"; room: string; topic: string; user: UserRef }
  // The person's own channel: about them, from any of their devices, whichever room it concerns.
  | { type: "rooms"; added?: MyRoom[]; removed?: string[] }
  | { type: "read"; room: string; seq: number }
  | { type: "mention"; room: string; message: ChatMessage };

export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "too_large"
  | "rate_limited"
  | "unavailable"
  | "internal"
  // An attachment's original is asked for before the media step has processed it (HTTP 409).
  | "not_ready"
  // Client-side codes: the request never got an answer.
  | "disconnected"
  | "timeout";

export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  abnormal: 1006,
  draining: 1012,
  unauthorized: 4001,
  policy: 4008,
  connectTimeout: 4009,
} as const;

export type Frame =
  | { kind: "reply"; id: string; body: Record<string, unknown> }
  | { kind: "error"; id: string | undefined; error: ProtocolError }
  | { kind: "event"; event: ServerEvent };

const EVENT_TYPES = new Set(["message", "presence", "typing", "kicked", "reconnect", "room", "rooms", "read", "mention"]);

/** Parses one text frame; null for anything that is not a frame of the contract. */
export function parseFrame(text: string): Frame | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const frame = data as Record<string, unknown>;
  const id = frame.id === undefined || frame.id === null ? undefined : String(frame.id);
  if (frame.type === "reply" && id !== undefined) return { kind: "reply", id, body: frame };
  if (frame.type === "error") {
    const code = typeof frame.code === "string" ? (frame.code as ErrorCode) : "internal";
    const message = typeof frame.message === "string" ? frame.message : code;
    const retry = typeof frame.retry_after_ms === "number" ? frame.retry_after_ms : undefined;
    return { kind: "error", id, error: new ProtocolError(code, message, retry) };
  }
  if (typeof frame.type === "string" && EVENT_TYPES.has(frame.type) && id === undefined) {
    return { kind: "event", event: frame as unknown as ServerEvent };
  }
  return null;
}

/** A direct-message room between two users: `dm:<smaller id>:<larger id>`. */
export function dmRoomId(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The other member of a DM room, or null when the room is not a DM of `me`. */
export function dmPartner(room: string, me: string): string | null {
  if (!room.startsWith("dm:")) return null;
  const [, first, second] = room.split(":");
  if (first === undefined || second === undefined) return null;
  if (first === me) return second;
  if (second === me) return first;
  return null;
}

export const ROOM_NAME = /^[a-z0-9_-]{1,64}$/;
