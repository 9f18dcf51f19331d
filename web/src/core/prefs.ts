// What the client remembers per person on this device, in localStorage: only a cache of the
// names behind people's ids, so DMs are titled at once on the next visit. Which rooms the person
// is in and how far they have read live on the server (GET /v1/me/rooms), the same on every
// device. Nothing here is secret (no tokens).

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

// Keys earlier versions wrote, when rooms and read marks were kept per device; the server holds
// them now, and a stale copy here would only mislead.
const RETIRED_KEYS = ["rooms", "read"];

// A name cache that grows with every person met stays small enough at this cap.
const MAX_NAMES = 500;

export class Prefs {
  private readonly store: KeyValueStore;
  private readonly prefix: string;

  constructor(store: KeyValueStore, userId: string) {
    this.store = store;
    this.prefix = `chat:${userId}:`;
  }

  /** Drops what earlier versions kept here and the server keeps now. */
  forgetRetired(): void {
    for (const key of RETIRED_KEYS) {
      try {
        this.store.removeItem(this.prefix + key);
      } catch {
        // Storage disabled: there is nothing to forget either.
      }
    }
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

  removeItem(key: string): void {
    this.values.delete(key);
  }
}
