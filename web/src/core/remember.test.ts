import { describe, expect, it } from "vitest";

import { MemoryStore, Prefs, type KeyValueStore } from "./prefs";
import { rememberIn } from "./remember";
import { createStores } from "./stores";
import { met } from "./stores/people";
import { changed, known } from "./stores/rooms";
import { read } from "./stores/unread";

class CountingStore extends MemoryStore implements KeyValueStore {
  writes: string[] = [];

  override setItem(key: string, value: string): void {
    this.writes.push(key.split(":").at(-1)!);
    super.setItem(key, value);
  }
}

function setup() {
  const storage = new CountingStore();
  const prefs = new Prefs(storage, "u-ann");
  const stores = createStores({ id: "u-ann", name: "ann" }, prefs);
  const stop = rememberIn(prefs, stores);
  return { storage, prefs, stores, stop };
}

describe("rememberIn", () => {
  it("writes nothing about rooms or read marks: the server keeps them", () => {
    const { storage, stores } = setup();
    stores.rooms.update((s) => changed(known(s, "lobby", "public"), "lobby", { kept: true }));
    stores.unread.update((s) => read(s, "lobby", 14));
    expect(storage.writes).toEqual([]);
  });

  it("remembers the names of people met, and stops when told", () => {
    const { prefs, stores, stop } = setup();
    stores.people.update((s) => met(s, [{ id: "u-bob", name: "bob" }]));
    stop();
    stores.people.update((s) => met(s, [{ id: "u-cara", name: "cara" }]));
    expect(prefs.names()).toEqual({ "u-bob": "bob" });
  });
});
