// The gateway's HTTP routes (the person's rooms, the room directory and its search, the people
// directory, room creation, members and topic, history pages, uploads and links to attached
// files) with the in-memory access token; a refused token is renewed once and the request
// repeated.

import { searchPage, type SearchPage } from "./messageSearch";
import type { Fetch } from "./auth";
import {
  ProtocolError,
  type ChatMessage,
  type ErrorCode,
  type HistoryPage,
  type MyRoom,
  type UserRef,
} from "./protocol";

export type RoomKind = "public" | "private" | "dm";

export interface RoomInfo {
  id: string;
  name: string;
  kind: RoomKind;
  read_only: boolean;
  last_seq: number;
  /** The person belongs to it (their own rooms); false for a directory entry. Older gateways omit it. */
  member?: boolean;
  /** RFC 3339: its newest message, or its creation. Older gateways omit it. */
  last_active_at?: string;
}

/** One answer of the room list: rooms, and the cursor of the directory's next page (null: none). */
export interface RoomList {
  rooms: RoomInfo[];
  next: string | null;
}

/** Someone in a room, as `GET /v1/rooms/{room}/members` lists them. */
export interface RoomMember extends UserRef {
  /** `owner`, `moderator` or `member`. */
  role: string;
  online: boolean;
}

/** A room's topic as the gateway stored it (`PATCH /v1/rooms/{room}` answers the room). */
export interface RoomTopic {
  id: string;
  topic: string;
}

export interface MemberList {
  members: RoomMember[];
  /** The room has more members than the gateway listed. */
  more: boolean;
}

/** A file the person is about to upload, as the gateway is told of it. */
export interface UploadRequest {
  name: string;
  type: string;
  size: number;
}

/**
 * The gateway's answer to `POST /v1/rooms/{room}/uploads`: the upload's id, and where to put the
 * bytes (exactly `size` of them, with exactly these headers, before `expiresAt`).
 */
export interface UploadTicket {
  id: string;
  url: string;
  method: string;
  headers: Readonly<Record<string, string>>;
  /** RFC 3339. */
  expiresAt: string;
}

/** Which of an attachment's files: the original, or the thumbnail of an image. */
export type AttachmentVariant = "original" | "thumbnail";

/** A presigned link to an attachment's file, good until `expiresAt` (RFC 3339). */
export interface AttachmentLink {
  url: string;
  expiresAt: string;
}

export interface GatewayApiOptions {
  /** `/v1` as seen by the page. */
  base: string;
  fetch: Fetch;
  accessToken(fresh: boolean): Promise<string>;
}

export class GatewayApi {
  private readonly options: GatewayApiOptions;

  constructor(options: GatewayApiOptions) {
    this.options = options;
  }

  /** The person's own rooms and the first page of the directory of public rooms. */
  async listRooms(): Promise<RoomList> {
    return roomList(await this.call("GET", "/rooms"));
  }

  /** The rooms the person belongs to, with their read markers: the same on every device. */
  async myRooms(): Promise<MyRoom[]> {
    const body = (await this.call("GET", "/me/rooms")) as { rooms?: MyRoom[] };
    return body.rooms ?? [];
  }

  /** Leaves a room for good while the socket is down (the socket's `leave` does it otherwise). */
  async leaveRoom(room: string): Promise<void> {
    await this.call("DELETE", `/me/rooms/${encodeURIComponent(room)}`);
  }

  /** People whose username starts with `prefix`, to start a direct message with. */
  async findPeople(prefix: string, limit = 20): Promise<UserRef[]> {
    const query = new URLSearchParams({ prefix, limit: String(limit) });
    const body = (await this.call("GET", `/users?${query.toString()}`)) as { users?: UserRef[] };
    return body.users ?? [];
  }

  async members(room: string): Promise<MemberList> {
    const body = (await this.call("GET", `/rooms/${encodeURIComponent(room)}/members`)) as {
      members?: RoomMember[];
      next_cursor?: unknown;
      more?: unknown;
    };
    const more = body.more === true || (typeof body.next_cursor === "string" && body.next_cursor !== "");
    return { members: body.members ?? [], more };
  }

  /** A page of the public rooms whose name starts with `query`, most recently active first. */
  async findRooms(query: string, cursor: string | null = null): Promise<RoomList> {
    const params = new URLSearchParams({ query });
    if (cursor !== null) params.set("cursor", cursor);
    return roomList(await this.call("GET", `/rooms?${params.toString()}`));
  }

  async createRoom(name: string, kind: "public" | "private"): Promise<RoomInfo> {
    const body = (await this.call("POST", "/rooms", { name, kind, read_only: false })) as
      | RoomInfo
      | { room: RoomInfo };
    return "room" in body ? body.room : body;
  }

  /** Adds someone to a private room (its owner or a moderator may). */
  async addMember(room: string, userId: string): Promise<void> {
    await this.call("POST", `/rooms/${encodeURIComponent(room)}/members`, { user_id: userId });
  }

  /** Sets a room's topic ("" clears it); rejects with the gateway's reason when it refuses. */
  async setTopic(room: string, topic: string): Promise<RoomTopic> {
    const body = (await this.call("PATCH", `/rooms/${encodeURIComponent(room)}`, { topic })) as Partial<RoomTopic>;
    return { id: body.id ?? room, topic: typeof body.topic === "string" ? body.topic : topic };
  }

  /** Messages whose words match `query`, newest first: in `room` alone, or in every room of the person's. */
  async searchMessages(query: string, room: string | null, before: string | null, limit = 20): Promise<SearchPage> {
    const params = new URLSearchParams({ q: query, limit: String(limit) });
    if (room !== null) params.set("room", room);
    if (before !== null) params.set("before", before);
    return searchPage(await this.call("GET", `/search?${params.toString()}`));
  }

  /** Announces a file to upload to `room`; rejects with the gateway's reason (too large, rate limited, forbidden). */
  async createUpload(room: string, file: UploadRequest): Promise<UploadTicket> {
    const body = (await this.call("POST", `/rooms/${encodeURIComponent(room)}/uploads`, file)) as {
      upload?: { id?: unknown };
      url?: unknown;
      method?: unknown;
      headers?: unknown;
      expires_at?: unknown;
    };
    if (typeof body.upload?.id !== "string" || typeof body.url !== "string") {
      throw new ProtocolError("internal", "the gateway's answer to the upload names no place to put the file");
    }
    const headers: Record<string, string> = {};
    if (typeof body.headers === "object" && body.headers !== null) {
      for (const [name, value] of Object.entries(body.headers)) if (typeof value === "string") headers[name] = value;
    }
    return {
      id: body.upload.id,
      url: body.url,
      method: typeof body.method === "string" ? body.method : "PUT",
      headers,
      expiresAt: typeof body.expires_at === "string" ? body.expires_at : "",
    };
  }

  /** A presigned link to one of an attachment's files (after the same read check as history). */
  async attachmentLink(room: string, id: string, variant: AttachmentVariant): Promise<AttachmentLink> {
    const path = `/rooms/${encodeURIComponent(room)}/attachments/${encodeURIComponent(id)}?variant=${variant}`;
    const body = (await this.call("GET", path)) as { url?: unknown; expires_at?: unknown };
    if (typeof body.url !== "string") throw new ProtocolError("internal", "the gateway's answer holds no link");
    return { url: body.url, expiresAt: typeof body.expires_at === "string" ? body.expires_at : "" };
  }

  async messages(room: string, before: number | undefined, limit: number): Promise<HistoryPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) query.set("before", String(before));
    const body = (await this.call(
      "GET",
      `/rooms/${encodeURIComponent(room)}/messages?${query.toString()}`,
    )) as { messages: ChatMessage[]; has_more: boolean };
    return { messages: body.messages, has_more: body.has_more };
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response = await this.send(method, path, body, false);
    if (response.status === 401) response = await this.send(method, path, body, true);
    if (response.ok) return response.status === 204 ? {} : response.json();
    throw await httpError(response);
  }

  private async send(method: string, path: string, body: unknown, fresh: boolean): Promise<Response> {
    const token = await this.options.accessToken(fresh);
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await this.options.fetch(`${this.options.base}${path}`, {
        method,
        headers,
        credentials: "same-origin",
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new ProtocolError("disconnected", "cannot reach the chat service");
    }
  }
}

function roomList(body: unknown): RoomList {
  if (Array.isArray(body)) return { rooms: body as RoomInfo[], next: null };
  const { rooms, next_cursor: next } = body as { rooms?: RoomInfo[]; next_cursor?: unknown };
  return { rooms: rooms ?? [], next: typeof next === "string" ? next : null };
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "bad_request",
  413: "too_large",
  422: "bad_request",
  429: "rate_limited",
  503: "unavailable",
};

async function httpError(response: Response): Promise<ProtocolError> {
  let message = `HTTP ${response.status}`;
  let code: ErrorCode = STATUS_CODES[response.status] ?? "internal";
  // Seconds (RFC 9110 also allows a date, which the gateway does not send).
  const retryAfter = Number(response.headers.get("Retry-After") ?? "");
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
  try {
    const body = (await response.json()) as { code?: unknown; message?: unknown };
    if (typeof body.message === "string") message = body.message;
    if (typeof body.code === "string") code = body.code as ErrorCode;
  } catch {
    // Not JSON (a balancer page): the status says enough.
  }
  return new ProtocolError(code, message, retryAfterMs);
}
