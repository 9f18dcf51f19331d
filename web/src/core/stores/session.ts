// Who is signed in and how the connection is: the person, their global roles, the gateway's id
// for the connection, its limits, and a notice for the person (being removed from a room).

import type { ConnectionState } from "../connection";
import type { ConnectReply, UserRef } from "../protocol";

export interface SessionState {
  readonly me: UserRef;
  /** Global roles from the gateway's connect reply: `member`, `moderator`, `admin`. */
  readonly roles: readonly string[];
  /** The gateway's id for the current connection (for support: it names the gateway). */
  readonly session: string | null;
  readonly connection: ConnectionState;
  readonly maxBodyChars: number;
  readonly notice: string | null;
}

// The protocol's limit, until the connect reply says otherwise.
const MAX_BODY_CHARS = 4000;

export function signedIn(me: UserRef): SessionState {
  return {
    me,
    roles: [],
    session: null,
    connection: { phase: "connecting", attempt: 0 },
    maxBodyChars: MAX_BODY_CHARS,
    notice: null,
  };
}

export function connected(state: SessionState, reply: ConnectReply): SessionState {
  return {
    ...state,
    me: { id: reply.user.id, name: reply.user.name },
    roles: reply.user.roles ?? [],
    session: reply.session ?? null,
    maxBodyChars: reply.limits?.max_body_chars ?? MAX_BODY_CHARS,
  };
}

export function connectionChanged(state: SessionState, connection: ConnectionState): SessionState {
  return { ...state, connection };
}

export function noticed(state: SessionState, notice: string | null): SessionState {
  return state.notice === notice ? state : { ...state, notice };
}

/** Moderators and admins may post in read-only rooms. */
export function maySpeakInReadOnly(state: SessionState): boolean {
  return state.roles.some((r) => r === "moderator" || r === "admin");
}
