import { describe, expect, it } from "vitest";

import { Store } from "./store";

describe("Store", () => {
  it("tells its listeners of a new value, and of nothing when a change returns the same one", () => {
    const store = new Store({ count: 0 });
    let heard = 0;
    const stop = store.subscribe(() => heard++);
    store.update((s) => ({ count: s.count + 1 }));
    store.update((s) => s);
    expect(store.get()).toEqual({ count: 1 });
    expect(heard).toBe(1);
    stop();
    store.update((s) => ({ count: s.count + 1 }));
    expect(heard).toBe(1);
  });

  it("lets a listener unsubscribe while being told", () => {
    const store = new Store(0);
    const heard: string[] = [];
    const stopFirst = store.subscribe(() => {
      heard.push("first");
      stopFirst();
    });
    store.subscribe(() => heard.push("second"));
    store.update((n) => n + 1);
    store.update((n) => n + 1);
    expect(heard).toEqual(["first", "second", "second"]);
  });
});
