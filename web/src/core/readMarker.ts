// Tells the server how far the person has read each room (the `read` command), so their other
// devices clear the room's badge. Only forward: a mark at or behind what the server already has
// is never sent. Throttled per room: the first read goes out at once, those within the next
// READ_THROTTLE_MS are folded into one that carries the newest seq. A mark that could not be
// sent (no connection) goes out after the next connect.

import type { Clock } from "./connection";
import { ProtocolError } from "./protocol";

// A person reading a busy room moves the mark with every message; one command per half second
// per room keeps that cheap, and their other devices still clear the badge well within a second.
export const READ_THROTTLE_MS = 500;

export interface ReadMarkerDeps {
  clock: Clock;
  online(): boolean;
  send(room: string, seq: number): Promise<unknown>;
}

interface RoomMark {
  /** The highest seq the server is known to have (it said so, or acknowledged ours). */
  confirmed: number;
  /** The highest seq read here. */
  wanted: number;
  /** When the last read of this room went out. */
  sentAt: number;
  inFlight: boolean;
  timer: unknown;
}

export class ReadMarker {
  private readonly deps: ReadMarkerDeps;
  private readonly marks = new Map<string, RoomMark>();

  constructor(deps: ReadMarkerDeps) {
    this.deps = deps;
  }

  /** The server holds this mark already (its room list, a `read` event from another device). */
  known(room: string, seq: number): void {
    const mark = this.mark(room);
    mark.confirmed = Math.max(mark.confirmed, seq);
  }

  /** The person has seen the room up to `seq`. */
  seen(room: string, seq: number): void {
    const mark = this.mark(room);
    if (seq <= Math.max(mark.wanted, mark.confirmed)) return;
    mark.wanted = seq;
    this.schedule(room, mark);
  }

  /** A new connection: what is still to be told goes out now. */
  connected(): void {
    for (const [room, mark] of this.marks) {
      if (mark.wanted > mark.confirmed && !mark.inFlight) this.schedule(room, mark);
    }
  }

  /** The room left the person's list: nothing more to say about it. */
  forget(room: string): void {
    const mark = this.marks.get(room);
    if (mark !== undefined) this.deps.clock.clearTimeout(mark.timer);
    this.marks.delete(room);
  }

  stop(): void {
    for (const mark of this.marks.values()) this.deps.clock.clearTimeout(mark.timer);
    this.marks.clear();
  }

  private mark(room: string): RoomMark {
    let mark = this.marks.get(room);
    if (mark === undefined) {
      mark = { confirmed: 0, wanted: 0, sentAt: -Infinity, inFlight: false, timer: null };
      this.marks.set(room, mark);
    }
    return mark;
  }

  private schedule(room: string, mark: RoomMark): void {
    const { clock } = this.deps;
    if (mark.inFlight || mark.timer !== null) return; // the one under way or due carries the newest seq
    const wait = mark.sentAt + READ_THROTTLE_MS - clock.now();
    if (wait <= 0) {
      void this.send(room, mark);
      return;
    }
    mark.timer = clock.setTimeout(() => {
      mark.timer = null;
      void this.send(room, mark);
    }, wait);
  }

  private async send(room: string, mark: RoomMark): Promise<void> {
    const seq = mark.wanted;
    if (seq <= mark.confirmed || !this.deps.online()) return; // `connected` sends it later
    mark.inFlight = true;
    mark.sentAt = this.deps.clock.now();
    try {
      await this.deps.send(room, seq);
      mark.confirmed = Math.max(mark.confirmed, seq);
    } catch (error) {
      // A room the person may not read (any more) takes no mark. Anything else waits for the
      // next read or the next connect rather than asking again and again.
      if (error instanceof ProtocolError && (error.code === "forbidden" || error.code === "not_found")) {
        mark.confirmed = Math.max(mark.confirmed, seq);
      }
      return;
    } finally {
      mark.inFlight = false;
    }
    // Read further while this one was on its way: the newer mark follows.
    if (this.marks.get(room) === mark && mark.wanted > mark.confirmed) this.schedule(room, mark);
  }
}
