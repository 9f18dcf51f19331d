import { describe, expect, it } from "vitest";

import { followRoutes, roomAt, roomPath, type PageHistory } from "./route";
import { ANN, BOB, startChat as setup } from "../test/harness";

/** The browser's history in miniature: entries, a position, back and forward. */
class FakeHistory implements PageHistory {
  entries: string[];
  at = 0;
  private listener: (() => void) | null = null;

  constructor(path = "/") {
    this.entries = [path];
  }

  path(): string {
    return this.entries[this.at]!;
  }

  push(path: string): void {
    this.entries = [...this.entries.slice(0, this.at + 1), path];
    this.at++;
  }

  replace(path: string): void {
    this.entries[this.at] = path;
  }

  onMove(listener: () => void): () => void {
    this.listener = listener;
    return () => {
      this.listener = null;
    };
  }

  go(steps: number): void {
    this.at += steps;
    this.listener?.();
  }
}

describe("room paths", () => {
  it("name rooms by id and DMs by the other person", () => {
    expect(roomPath("lobby", ANN.id)).toBe("/r/lobby");
    expect(roomPath("dm:u-ann:u-bob", ANN.id)).toBe("/dm/u-bob");
    expect(roomAt("/r/lobby", ANN.id)).toEqual({ id: "lobby", kind: "public" });
    expect(roomAt("/dm/u-bob", ANN.id)).toEqual({ id: "dm:u-ann:u-bob", kind: "dm" });
    for (const other of ["/", "/r/", "/dm/u-ann", "/r/a/b", "/r/%E0%A4%A", "/settings"]) expect(roomAt(other, ANN.id)).toBeNull();
  });
});

describe("followRoutes", () => {
  it("pushes a URL per room, and back and forward open the room of the URL", async () => {
    const chat = setup();
    const history = new FakeHistory();
    followRoutes(chat.client, history);
    chat.client.start();
    await chat.pump();
    chat.client.openRoom("lobby");
    chat.client.startDm(BOB);
    expect(history.entries).toEqual(["/", "/r/lobby", "/dm/u-bob"]);
    history.go(-1);
    expect(chat.client.stores.navigation.get().activeRoom).toBe("lobby");
    history.go(-1);
    expect(chat.client.stores.navigation.get().activeRoom).toBeNull();
    history.go(2);
    expect(chat.client.stores.navigation.get().activeRoom).toBe("dm:u-ann:u-bob");
    expect(history.entries).toEqual(["/", "/r/lobby", "/dm/u-bob"]); // moving added no entry
  });

  it("opens the room of the URL a reload lands on, and keeps it though the server has yet to list it", async () => {
    const chat = setup();
    chat.gateway.addToRoom("team", "private");
    chat.gateway.store("team", "hello", BOB, "h1");
    const history = new FakeHistory("/r/team");
    followRoutes(chat.client, history);
    chat.client.start();
    await chat.pump();
    expect(chat.client.stores.navigation.get().activeRoom).toBe("team");
    expect(chat.room("team")).toMatchObject({ kind: "private", kept: true, joined: true });
    expect(chat.bodies("team")).toEqual(["hello"]);
    expect(history.entries).toEqual(["/r/team"]);
  });
});
