// Which messages deserve a desktop notification: a direct message from someone else, or a
// message that names the person, while the page is in the background. Everything else waits
// for the badges.

import type { RoomKind } from "./api";
import { attachmentSummary } from "./attachments";
import type { ChatMessage } from "./protocol";

export interface Alert {
  room: string;
  /** One notification per room: a newer one replaces the one still shown. */
  tag: string;
  title: string;
  body: string;
}

// A notification shows a line or two; the rest is in the room.
const BODY_CHARS = 140;

/** What to show for `message`, or null when it is no reason to interrupt the person. */
export function alertFor(message: ChatMessage, kind: RoomKind, me: string, roomTitle: string): Alert | null {
  if (message.user.id === me) return null;
  const mentioned = (message.mentions ?? []).includes(me);
  if (kind !== "dm" && !mentioned) return null;
  // A message of files alone says what it brings.
  const text = message.body !== undefined && message.body !== "" ? message.body : attachmentSummary(message.attachments ?? []);
  const body = text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS - 1)}…` : text;
  const title = kind === "dm" ? message.user.name : `${message.user.name} in #${roomTitle}`;
  return { room: message.room, tag: `chat:${message.room}`, title, body };
}
