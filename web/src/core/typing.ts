// Typing indicators: how often to tell others, how long to show that someone types.

import type { Clock } from "./connection";
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

export interface TypingAnnouncerOptions {
  clock: Clock;
  /** Tells the room's others; false when it could not (not joined, not connected). */
  announce(room: string): boolean;
  mayAnnounce(room: string): boolean;
}

/**
 * Tells others that the person types, at most every 2.5 s per room (the gateway drops more);
 * keystrokes inside that window are not lost but announced once it ends, so a short burst right
 * after an earlier one still shows.
 */
export class TypingAnnouncer {
  private readonly sentAt = new Map<string, number>();
  private readonly later = new Map<string, unknown>();

  constructor(private readonly options: TypingAnnouncerOptions) {}

  typed(room: string): void {
    const { clock } = this.options;
    const now = clock.now();
    if (!this.options.mayAnnounce(room)) return;
    const last = this.sentAt.get(room);
    if (shouldSendTyping(last, now)) {
      if (this.options.announce(room)) this.sentAt.set(room, now);
      return;
    }
    if (last === undefined || this.later.has(room)) return;
    const timer = clock.setTimeout(() => {
      this.later.delete(room);
      this.typed(room);
    }, last + TYPING_SEND_INTERVAL_MS - now);
    this.later.set(room, timer);
  }

  /** The message itself tells the others the typing is over: no late announcement after it. */
  sent(room: string): void {
    this.options.clock.clearTimeout(this.later.get(room));
    this.later.delete(room);
  }

  stop(): void {
    for (const timer of this.later.values()) this.options.clock.clearTimeout(timer);
    this.later.clear();
  }
}
