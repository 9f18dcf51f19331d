import { describe, expect, it } from "vitest";

import { afterFailure, markSending, newPending } from "../outbox";
import type { ChatMessage } from "../protocol";
import { changed, deliveredAmong, nextToSend, pendingIn, removed, typed } from "./pending";

const first = newPending("r", "one", "c1", 1000);
const second = newPending("r", "two", "c2", 2000);

describe("pending", () => {
  it("sends the oldest message not given up on first", () => {
    let state = typed(typed({}, second), first);
    expect(nextToSend(state, "r")?.clientMsgId).toBe("c1");
    state = changed(state, "r", "c1", (p) => afterFailure(p, "forbidden", 3000));
    expect(nextToSend(state, "r")?.clientMsgId).toBe("c2");
    expect(pendingIn(state, "r").map((p) => p.state)).toEqual(["queued", "failed"]);
    expect(changed(state, "r", "nobody", markSending)).toBe(state);
  });

  it("lets go of a message once acknowledged or discarded", () => {
    const state = removed(typed(typed({}, first), second), "r", "c1");
    expect(pendingIn(state, "r").map((p) => p.body)).toEqual(["two"]);
    expect(removed(state, "r", "c1")).toBe(state);
  });

  it("recognises messages the server stored before the connection dropped", () => {
    const stored: ChatMessage = {
      id: "m1",
      room: "r",
      seq: 1,
      user: { id: "u-ann", name: "ann" },
      body: "one",
      ts: "",
      client_msg_id: "c1",
    };
    const state = typed(typed({}, first), second);
    expect(pendingIn(deliveredAmong(state, "r", [stored], "u-ann"), "r").map((p) => p.body)).toEqual(["two"]);
    // Someone else's message with the same client_msg_id is not ours.
    expect(deliveredAmong(state, "r", [stored], "u-bob")).toBe(state);
  });
});
