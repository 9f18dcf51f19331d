// What the client remembers per person between visits, in localStorage: the rooms they keep in
// their sidebar, how far they have read in each, and the names behind DM partners' ids.
// Nothing here is secret (no tokens); it only makes the next visit start where this one ended.

import type { RoomKind } from "./api";

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface KeptRoom {
  id: string;
  kind: RoomKind;
}

// A name cache that grows with every person met stays small enough at this cap.
const MAX_NAMES = 500;

export class Prefs {
  private readonly store: KeyValueStore;
  private readonly prefix: string;

  constructor(store: KeyValueStore, userId: string) {
    this.store = store;
    this.prefix = `chat:${userId}:`;
  }

  rooms(): KeptRoom[] {
    const rooms = this.read<KeptRoom[]>("rooms", []);
    return Array.isArray(rooms) ? rooms.filter((r) => typeof r?.id === "string") : [];
  }

  setRooms(rooms: readonly KeptRoom[]): void {
    this.write("rooms", rooms);
  }

  lastRead(): Record<string, number> {
    return this.read<Record<string, number>>("read", {});
  }

  setLastRead(room: string, seq: number): void {
    const read = this.lastRead();
    if ((read[room] ?? 0) >= seq) return;
    read[room] = seq;
    this.write("read", read);
  }

  names(): Record<string, string> {
    return this.read<Record<string, string>>("names", {});
  }

  rememberNames(people: Record<string, string>): void {
    const names = { ...this.names(), ...people };
    const ids = Object.keys(names);
    for (const id of ids.slice(0, Math.max(0, ids.length - MAX_NAMES))) delete names[id];
    this.write("names", names);
  }

  private read<T>(key: string, fallback: T): T {
    try {
      const text = this.store.getItem(this.prefix + key);
      return text === null ? fallback : (JSON.parse(text) as T);
    } catch {
      return fallback;
    }
  }

  private write(key: string, value: unknown): void {
    try {
      this.store.setItem(this.prefix + key, JSON.stringify(value));
    } catch {
      // Storage full or disabled (private mode): the client works, it only forgets sooner.
    }
  }
}

/** A store for when localStorage is not available. */
export class MemoryStore implements KeyValueStore {
  private readonly values = new Map<string, string>();

  getItem(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.values.set(key, value);
  }
}
