// Type-level tests of the command map: `vitest --typecheck` (part of `npm test`) compiles them.

import { describe, expectTypeOf, it } from "vitest";

import type { Replies } from "./commands";
import type { ChatConnection } from "./connection";
import type { HistoryPage, JoinReply, SendReply } from "./protocol";

declare const connection: ChatConnection;

describe("request", () => {
  it("resolves with the reply of the command asked for", () => {
    expectTypeOf(connection.request("join", { room: "lobby", since: 4 })).resolves.toEqualTypeOf<JoinReply>();
    const send = connection.request("send", { room: "lobby", body: "hi", client_msg_id: "c1" });
    expectTypeOf(send).resolves.toEqualTypeOf<SendReply>();
    expectTypeOf(connection.request("history", { room: "lobby" })).resolves.toEqualTypeOf<HistoryPage>();
    expectTypeOf<Replies["leave"]>().toEqualTypeOf<Record<string, never>>();
  });

  it("refuses fields the command does not take and commands that do not exist", () => {
    // @ts-expect-error a join names its room
    void connection.request("join", { since: 4 });
    // @ts-expect-error a send needs its client_msg_id
    void connection.request("send", { room: "lobby", body: "hi" });
    // @ts-expect-error a room is a string
    void connection.request("leave", { room: 7 });
    // @ts-expect-error there is no such command
    void connection.request("shout", { room: "lobby" });
    // @ts-expect-error a join's reply is no history page
    expectTypeOf(connection.request("join", { room: "lobby" })).resolves.toEqualTypeOf<HistoryPage>();
  });

  it("sends only notifications without an id", () => {
    expectTypeOf(connection.notify("typing", { room: "lobby" })).toEqualTypeOf<boolean>();
    // @ts-expect-error a join wants its reply
    connection.notify("join", { room: "lobby" });
  });
});
