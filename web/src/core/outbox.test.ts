import { describe, expect, it } from "vitest";

import { AUTO_RETRIES, afterFailure, isDue, markSending, newPending, retryNow } from "./outbox";

const NOW = 1_000_000;

describe("pending messages", () => {
  it("keep their client_msg_id through every retry", () => {
    let message = markSending(newPending("lobby", "hi", "c-1", NOW));
    message = afterFailure(message, "unavailable", NOW);
    message = markSending(message);
    message = afterFailure(message, "disconnected", NOW);
    message = retryNow(message);
    expect(message.clientMsgId).toBe("c-1");
  });

  it("wait for the connection without using up attempts", () => {
    const message = afterFailure(markSending(newPending("lobby", "hi", "c", NOW)), "disconnected", NOW);
    expect(message.state).toBe("queued");
    expect(message.attempts).toBe(0);
    expect(isDue(message, NOW)).toBe(true);
  });

  it("retry an unavailable service with growing waits, then give up", () => {
    let message = newPending("lobby", "hi", "c", NOW);
    message = afterFailure(message, "unavailable", NOW);
    expect(message.state).toBe("queued");
    expect(message.retryAt).toBe(NOW + 1000);
    expect(isDue(message, NOW + 999)).toBe(false);
    expect(isDue(message, NOW + 1000)).toBe(true);
    message = afterFailure(message, "unavailable", NOW);
    expect(message.retryAt).toBe(NOW + 2000);
    for (let i = 2; i < AUTO_RETRIES; i++) message = afterFailure(message, "unavailable", NOW);
    expect(message.state).toBe("failed");
  });

  it("wait as long as the rate limit says", () => {
    const message = afterFailure(newPending("lobby", "hi", "c", NOW), "rate_limited", NOW, 750);
    expect(message.state).toBe("queued");
    expect(message.retryAt).toBe(NOW + 750);
  });

  it("fail at once when retrying cannot help", () => {
    for (const code of ["forbidden", "too_large", "bad_request", "not_found"] as const) {
      const message = afterFailure(newPending("lobby", "hi", "c", NOW), code, NOW);
      expect(message.state).toBe("failed");
      expect(message.error).toMatch(/not sent/);
    }
  });

  it("go out again at once when the person retries", () => {
    const failed = afterFailure(newPending("lobby", "hi", "c", NOW), "forbidden", NOW);
    const again = retryNow(failed);
    expect(again.state).toBe("queued");
    expect(again.error).toBeUndefined();
    expect(isDue(again, NOW)).toBe(true);
  });
});
