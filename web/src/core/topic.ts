// A room's topic: who may set it, and what the gateway accepts as one, checked before it is sent
// so the person learns what is wrong while typing rather than from a refusal.

import type { RoomState } from "./stores/rooms";

// The gateway's limit (PATCH /v1/rooms/{room}, docs/protocol.md): short enough for a header.
export const MAX_TOPIC_CHARS = 250;

// Controls (but tab and newline, which are told apart below), DEL and the C1 controls; then the
// direction marks, overrides and isolates and the invisible characters the gateway refuses in a
// one-line label, since beside other people's words they only serve to spoof.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u;
const LINE_BREAK = /[\n\r\u2028\u2029]/u;

/** The room's own staff and the deployment's moderators and admins; a DM has no topic. */
export function mayEditTopic(room: Pick<RoomState, "kind" | "role">, roles: readonly string[]): boolean {
  if (room.kind === "dm") return false;
  return room.role === "owner" || room.role === "moderator" || roles.some((r) => r === "moderator" || r === "admin");
}

/** The topic's length as the gateway counts it: in characters (code points), not UTF-16 units. */
export function topicLength(topic: string): number {
  return [...topic].length;
}

/** Why the gateway would refuse `topic`, in words for the person; null when it would take it. */
export function topicProblem(topic: string): string | null {
  const length = topicLength(topic);
  if (length > MAX_TOPIC_CHARS) return `A topic is at most ${MAX_TOPIC_CHARS} characters (this one has ${length}).`;
  if (LINE_BREAK.test(topic)) return "A topic is one line: remove the line breaks.";
  if (topic.includes("\t") || CONTROLS.test(topic)) return "A topic cannot hold tabs or control characters.";
  if (INVISIBLE.test(topic)) return "A topic cannot hold invisible or text-direction characters.";
  return null;
}
