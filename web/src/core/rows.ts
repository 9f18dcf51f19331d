// What the message list draws: messages and pending sends interleaved with day separators, in
// the reader's own time zone, with consecutive messages of one person grouped under one header.

import { isPendingMessage, type PendingMessage } from "./outbox";
import type { ChatMessage } from "./protocol";
import type { RoomMessages } from "./stores/messages";

export type Row =
  | { kind: "start"; key: string }
  | { kind: "loader"; key: string }
  | { kind: "day"; key: string; label: string }
  /** The "new messages" line: what follows came after the read mark the room was opened with. */
  | { kind: "new"; key: string }
  | {
      kind: "message";
      key: string;
      message: ChatMessage;
      own: boolean;
      /** Starts a group: shows the author and the time. */
      first: boolean;
      time: string;
      /** The person's edits, deletes and reactions of this message still on their way (or refused). */
      actions: readonly PendingMessage[];
    }
  | { kind: "pending"; key: string; pending: PendingMessage; first: boolean; time: string };

const NO_ACTIONS: readonly PendingMessage[] = [];

// Messages of one person closer together than this read as one thought: one header for all.
const GROUP_WINDOW_MS = 5 * 60_000;

export interface RowOptions {
  now: Date;
  /** IANA zone; the browser's own when absent. */
  timeZone?: string;
  locale?: string;
  loadingOlder: boolean;
  /** Messages after this seq are new to the reader (the line goes before the first); null: none. */
  newSince?: number | null;
}

interface Stamp {
  day: string;
  time: string;
}

export class LocalTime {
  // Rows are rebuilt on every new message; formatting thousands of dates each time would cost
  // tens of milliseconds, so each message's local day and time are computed once.
  private readonly stamps = new WeakMap<ChatMessage, Stamp>();
  private readonly day: Intl.DateTimeFormat;
  private readonly time: Intl.DateTimeFormat;
  private readonly full: Intl.DateTimeFormat;
  private readonly label: Intl.DateTimeFormat;
  private readonly labelWithYear: Intl.DateTimeFormat;

  constructor(timeZone?: string, locale?: string) {
    const zone = timeZone === undefined ? {} : { timeZone };
    this.day = new Intl.DateTimeFormat("en-CA", { ...zone, year: "numeric", month: "2-digit", day: "2-digit" });
    this.time = new Intl.DateTimeFormat(locale, { ...zone, hour: "2-digit", minute: "2-digit" });
    this.full = new Intl.DateTimeFormat(locale, { ...zone, dateStyle: "full", timeStyle: "medium" });
    this.label = new Intl.DateTimeFormat(locale, { ...zone, weekday: "long", month: "long", day: "numeric" });
    this.labelWithYear = new Intl.DateTimeFormat(locale, {
      ...zone,
      weekday: "long",
      year: "numeric",
      month: "long",
      day: "numeric",
    });
  }

  /** The local calendar day as YYYY-MM-DD. */
  dayKey(date: Date): string {
    return this.day.format(date);
  }

  clock(date: Date): string {
    return this.time.format(date);
  }

  fullText(date: Date): string {
    return this.full.format(date);
  }

  stamp(message: ChatMessage): Stamp {
    let stamp = this.stamps.get(message);
    if (stamp === undefined) {
      const at = new Date(message.ts);
      stamp = { day: this.dayKey(at), time: this.clock(at) };
      this.stamps.set(message, stamp);
    }
    return stamp;
  }

  dayLabel(date: Date, now: Date): string {
    const key = this.dayKey(date);
    if (key === this.dayKey(now)) return "Today";
    if (key === this.dayKey(new Date(now.getTime() - 86_400_000))) return "Yesterday";
    const sameYear = key.slice(0, 4) === this.dayKey(now).slice(0, 4);
    return (sameYear ? this.label : this.labelWithYear).format(date);
  }
}

const zones = new Map<string, LocalTime>();

/** One formatter set (and its cache) per zone and locale. */
export function localTime(timeZone?: string, locale?: string): LocalTime {
  const key = `${timeZone ?? ""}|${locale ?? ""}`;
  let local = zones.get(key);
  if (local === undefined) {
    local = new LocalTime(timeZone, locale);
    zones.set(key, local);
  }
  return local;
}

export function buildRows(
  timeline: Pick<RoomMessages, "messages" | "hasMoreBefore">,
  pending: readonly PendingMessage[],
  meId: string | null,
  options: RowOptions,
): Row[] {
  const local = localTime(options.timeZone, options.locale);
  const rows: Row[] = [];
  if (options.loadingOlder) rows.push({ kind: "loader", key: "loader" });
  else if (!timeline.hasMoreBefore) rows.push({ kind: "start", key: "start" });

  let lastDay = "";
  let lastAuthor = "";
  let lastAt = 0;
  const place = (at: Date, day: string, author: string): boolean => {
    if (day !== lastDay) {
      rows.push({ kind: "day", key: `day-${day}`, label: local.dayLabel(at, options.now) });
      lastDay = day;
      lastAuthor = "";
    }
    const first = author !== lastAuthor || at.getTime() - lastAt > GROUP_WINDOW_MS;
    lastAuthor = author;
    lastAt = at.getTime();
    return first;
  };

  // The line goes where it is known to belong: after a message at the mark, or at the room's start.
  const newSince = options.newSince ?? null;
  const first = timeline.messages[0];
  const actions = new Map<string, PendingMessage[]>();
  for (const item of pending) {
    if (isPendingMessage(item) || item.target === undefined) continue;
    const list = actions.get(item.target) ?? [];
    list.push(item);
    actions.set(item.target, list);
  }
  let lineDue = newSince !== null && first !== undefined && (first.seq <= newSince || !timeline.hasMoreBefore);
  for (const message of timeline.messages) {
    const stamp = local.stamp(message);
    const own = message.user.id === meId;
    let first = place(new Date(message.ts), stamp.day, message.user.id);
    if (lineDue && message.seq > newSince!) {
      rows.push({ kind: "new", key: "new" });
      lineDue = false;
      first = true; // the first new message shows who wrote it
    }
    // An own message keeps the key it had while pending, so the row stays in place on the ack.
    const key = own && message.client_msg_id ? `c-${message.client_msg_id}` : `m-${message.id}`;
    const waiting = actions.get(message.id) ?? NO_ACTIONS;
    rows.push({ kind: "message", key, message, own, first, time: stamp.time, actions: waiting });
  }
  const waiting = pending.filter(isPendingMessage).sort((a, b) => a.createdAt - b.createdAt);
  for (const item of waiting) {
    const at = new Date(item.createdAt);
    const first = place(at, local.dayKey(at), meId ?? "");
    rows.push({ kind: "pending", key: `c-${item.clientMsgId}`, pending: item, first, time: local.clock(at) });
  }
  return rows;
}
