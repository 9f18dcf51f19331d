// The gateway's HTTP routes (room list, room creation, history pages) with the in-memory access
// token; a refused token is renewed once and the request repeated.

import type { Fetch } from "./auth";
import { ProtocolError, type ChatMessage, type ErrorCode, type HistoryPage } from "./protocol";

export type RoomKind = "public" | "private" | "dm";

export interface RoomInfo {
  id: string;
  name: string;
  kind: RoomKind;
  read_only: boolean;
  last_seq: number;
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

  async listRooms(): Promise<RoomInfo[]> {
    const body = (await this.call("GET", "/rooms")) as { rooms?: RoomInfo[] } | RoomInfo[];
    return Array.isArray(body) ? body : (body.rooms ?? []);
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
  try {
    const body = (await response.json()) as { code?: unknown; message?: unknown };
    if (typeof body.message === "string") message = body.message;
    if (typeof body.code === "string") code = body.code as ErrorCode;
  } catch {
    // Not JSON (a balancer page): the status says enough.
  }
  return new ProtocolError(code, message);
}
