// Messages typed, and edits, deletes and reactions asked for, not yet acknowledged. Each keeps its
// client_msg_id across every retry, so a resend after a lost reply or a reconnect is recognised by
// the gateway and never doubles (G4).

import type { ErrorCode, ReplyTo } from "./protocol";
import type { ReadyFile } from "./uploads";

export type PendingState = "sending" | "queued" | "failed";

/** What the person asked for besides a message: each goes out as its own command. */
export type ActionKind = "edit" | "delete" | "react";

export interface PendingMessage {
  readonly clientMsgId: string;
  readonly room: string;
  readonly body: string;
  /** When the person pressed Enter (ms since the epoch); orders the pending ones. */
  readonly createdAt: number;
  readonly state: PendingState;
  /** Failed attempts so far. */
  readonly attempts: number;
  /** Why the last attempt failed, in words for the person. */
  readonly error?: string;
  /** A queued retry waits until then (ms since the epoch). */
  readonly retryAt?: number;
  /** Absent: a message (`body`, answering `replyTo` when set); otherwise an action on `target`. */
  readonly action?: ActionKind;
  readonly target?: string;
  /** A reaction's emoji. */
  readonly emoji?: string;
  /** The message this one answers, as shown above it while it is on its way. */
  readonly replyTo?: ReplyTo;
  /** A message's uploaded files, sent as its `attachments` on every try (the gateway claims them once). */
  readonly attachments?: readonly ReadyFile[];
}

// A dependency outage usually ends within seconds (a Kafka leader election, a restarted Redis):
// a few automatic retries cover it; after that the person decides.
export const AUTO_RETRIES = 5;
const RETRY_BASE_MS = 1000;

export function newPending(
  room: string,
  body: string,
  clientMsgId: string,
  now: number,
): PendingMessage {
  return { clientMsgId, room, body, createdAt: now, state: "queued", attempts: 0 };
}

/** An edit (`body`: the new text), delete or reaction (`emoji`) of message `target`. */
export function newAction(
  room: string,
  action: ActionKind,
  target: string,
  clientMsgId: string,
  now: number,
  fields: { body?: string; emoji?: string } = {},
): PendingMessage {
  const { body = "", emoji } = fields;
  return {
    ...newPending(room, body, clientMsgId, now),
    action,
    target,
    ...(emoji === undefined ? {} : { emoji }),
  };
}

/** A message the person typed (a row of its own), not an action on another message. */
export function isPendingMessage(pending: PendingMessage): boolean {
  return pending.action === undefined;
}

export function markSending(message: PendingMessage): PendingMessage {
  const { retryAt: _retryAt, error: _error, ...rest } = message;
  return { ...rest, state: "sending" };
}

/** A queued message may go out now. */
export function isDue(message: PendingMessage, now: number): boolean {
  return message.state === "queued" && (message.retryAt === undefined || message.retryAt <= now);
}

/**
 * What happens to a message whose send failed with `code`: queued again (with the time of the
 * next try) when retrying can help and is safe, failed otherwise.
 */
export function afterFailure(
  message: PendingMessage,
  code: ErrorCode,
  now: number,
  retryAfterMs?: number,
  reason?: string,
): PendingMessage {
  const attempts = message.attempts + 1;
  switch (code) {
    case "disconnected":
      // Not an attempt that the server refused: it goes out again after the next join.
      return { ...message, state: "queued", error: "waiting for the connection" };
    case "rate_limited":
      return {
        ...message,
        attempts,
        state: "queued",
        retryAt: now + (retryAfterMs ?? RETRY_BASE_MS),
        error: "sending too fast; retrying",
      };
    case "unavailable":
    case "internal":
    case "timeout":
      if (attempts >= AUTO_RETRIES) {
        return { ...message, attempts, state: "failed", error: "not sent: the service is unavailable" };
      }
      return {
        ...message,
        attempts,
        state: "queued",
        retryAt: now + RETRY_BASE_MS * 2 ** (attempts - 1),
        error: "the service is busy; retrying",
      };
    default:
      return {
        ...message,
        attempts,
        state: "failed",
        error:
          message.action !== undefined
            ? actionFailureText(message.action, code, reason)
            : message.attachments !== undefined && message.attachments.length > 0
              ? attachmentFailureText(code, reason)
              : failureText(code),
      };
  }
}

/** The person pressed Retry: the same client_msg_id goes out again. */
export function retryNow(message: PendingMessage): PendingMessage {
  const { retryAt: _retryAt, error: _error, ...rest } = message;
  return { ...rest, state: "queued", attempts: 0 };
}

function failureText(code: ErrorCode): string {
  switch (code) {
    case "forbidden":
      return "not sent: you may not post in this room";
    case "too_large":
      return "not sent: the message is too long";
    case "not_found":
      return "not sent: the room does not exist";
    case "unauthorized":
      return "not sent: your session has ended";
    default:
      return "not sent";
  }
}

/**
 * Why a message with files was refused: the gateway's words say which file and what is wrong
 * with it (not uploaded yet, already sent with another message, not what its type says).
 */
function attachmentFailureText(code: ErrorCode, reason: string | undefined): string {
  if ((code === "bad_request" || code === "too_large") && reason !== undefined && reason !== "" && reason !== code) {
    return `not sent: ${reason}`;
  }
  return failureText(code);
}

const VERBS: Record<ActionKind, string> = { edit: "edit", delete: "delete", react: "react to" };

/** Why an edit, delete or reaction was refused, in the gateway's words when it gave them. */
function actionFailureText(action: ActionKind, code: ErrorCode, reason: string | undefined): string {
  const verb = VERBS[action];
  const why =
    reason !== undefined && reason !== "" && reason !== code
      ? reason
      : code === "forbidden"
        ? "you may not do that here"
        : code === "not_found"
          ? "the message is gone"
          : code === "unauthorized"
            ? "your session has ended"
            : code.replace("_", " ");
  return `Could not ${verb} this message: ${why}`;
}
