import { describe, expect, it } from "vitest";

import { RECONNECT_POLICY, drainDelay, reconnectDelay } from "./backoff";

describe("reconnectDelay", () => {
  it("doubles each attempt, between half and all of the step", () => {
    for (const [attempt, step] of [
      [0, 1000],
      [1, 2000],
      [2, 4000],
      [3, 8000],
    ] as const) {
      expect(reconnectDelay(attempt, () => 0)).toBe(step / 2);
      expect(reconnectDelay(attempt, () => 1)).toBe(step);
    }
  });

  it("never waits longer than the cap, however many attempts", () => {
    expect(reconnectDelay(50, () => 1)).toBe(RECONNECT_POLICY.maxMs);
    expect(reconnectDelay(1000, () => 0)).toBe(RECONNECT_POLICY.maxMs / 2);
  });

  it("spreads clients that retry at the same attempt", () => {
    const delays = new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((r) => reconnectDelay(2, () => r)));
    expect(delays.size).toBe(5);
  });
});

describe("drainDelay", () => {
  it("spreads a draining gateway's clients over a second", () => {
    expect(drainDelay(() => 0)).toBe(0);
    expect(drainDelay(() => 0.999)).toBeLessThanOrEqual(1000);
  });
});
