import { describe, expect, it } from "vitest";

import { ProtocolError, dmPartner, dmRoomId, parseFrame } from "./protocol";

describe("parseFrame", () => {
  it("matches replies and errors to their ids, numeric or not", () => {
    expect(parseFrame('{"type":"reply","id":7,"room":"a"}')).toEqual({
      kind: "reply",
      id: "7",
      body: { type: "reply", id: 7, room: "a" },
    });
    const error = parseFrame('{"type":"error","id":"3","code":"rate_limited","message":"slow","retry_after_ms":250}');
    expect(error?.kind).toBe("error");
    if (error?.kind !== "error") return;
    expect(error.id).toBe("3");
    expect(error.error).toBeInstanceOf(ProtocolError);
    expect(error.error.code).toBe("rate_limited");
    expect(error.error.retryAfterMs).toBe(250);
  });

  it("reads frames without id as events", () => {
    const frame = parseFrame('{"type":"reconnect","reason":"draining"}');
    expect(frame).toEqual({ kind: "event", event: { type: "reconnect", reason: "draining" } });
  });

  it("ignores what is not a frame of the contract", () => {
    for (const text of ["not json", "[]", "null", '{"type":"mystery"}', '{"type":"reply"}']) {
      expect(parseFrame(text)).toBeNull();
    }
  });
});

describe("direct-message rooms", () => {
  it("name the smaller id first whoever starts them", () => {
    expect(dmRoomId("b7", "a1")).toBe("dm:a1:b7");
    expect(dmRoomId("a1", "b7")).toBe("dm:a1:b7");
  });

  it("know the other member", () => {
    expect(dmPartner("dm:a1:b7", "a1")).toBe("b7");
    expect(dmPartner("dm:a1:b7", "b7")).toBe("a1");
    expect(dmPartner("dm:a1:b7", "c9")).toBeNull();
    expect(dmPartner("lobby", "a1")).toBeNull();
  });
});
