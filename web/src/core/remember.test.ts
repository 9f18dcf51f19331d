import { describe, expect, it } from "vitest";

import { MemoryStore, Prefs, type KeyValueStore } from "./prefs";
import { rememberIn } from "./remember";
import { createStores } from "./stores";
import { met } from "./stores/people";
import { changed, known } from "./stores/rooms";
import { counted, read } from "./stores/unread";

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
  it("writes the kept rooms when they change, and only then", () => {
    const { storage, prefs, stores } = setup();
    stores.rooms.update((s) => changed(known(s, "lobby", "public"), "lobby", { kept: true }));
    stores.rooms.update((s) => changed(s, "lobby", { joined: true, loadingOlder: true }));
    stores.rooms.update((s) => known(s, "random", "public"));
    expect(prefs.rooms()).toEqual([{ id: "lobby", kind: "public" }]);
    expect(storage.writes).toEqual(["rooms"]);
  });

  it("writes a read mark when it moves forward", () => {
    const { prefs, stores } = setup();
    stores.unread.update((s) => counted(s, "lobby", 3, 10));
    stores.unread.update((s) => read(s, "lobby", 14));
    expect(prefs.lastRead()).toEqual({ lobby: 14 });
  });

  it("remembers the names of people met, and stops when told", () => {
    const { prefs, stores, stop } = setup();
    stores.people.update((s) => met(s, [{ id: "u-bob", name: "bob" }]));
    stop();
    stores.people.update((s) => met(s, [{ id: "u-cara", name: "cara" }]));
    expect(prefs.names()).toEqual({ "u-bob": "bob" });
  });
});
