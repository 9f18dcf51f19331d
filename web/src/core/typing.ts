// Typing indicators: how often to tell others, how long to show that someone types.

import type { UserRef } from "./protocol";

// The gateway forwards at most one typing event per person and room every 2 s and drops the
// rest. Half a second more than that, so network jitter never lands an announcement inside the
// gateway's window, where it would be lost.
export const TYPING_SEND_INTERVAL_MS = 2500;
// Shown a little longer than the send interval so a steady typist does not flicker.
export const TYPING_SHOW_MS = 3500;

export function shouldSendTyping(lastSentAt: number | undefined, now: number): boolean {
  return lastSentAt === undefined || now - lastSentAt >= TYPING_SEND_INTERVAL_MS;
}

/** "alice is typing…", "alice and bob are typing…", "several people are typing…". */
export function typingText(people: readonly UserRef[]): string {
  const [first, second] = people;
  if (first === undefined) return "";
  if (second === undefined) return `${first.name} is typing…`;
  if (people.length === 2) return `${first.name} and ${second.name} are typing…`;
  return "Several people are typing…";
}
