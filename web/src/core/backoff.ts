// Reconnect timing: exponential backoff with jitter, so that thousands of clients cut off by the
// same gateway do not all come back in the same instant.

export interface BackoffPolicy {
  /** The first retry waits between half of this and all of it. */
  baseMs: number;
  /** No wait grows beyond this. */
  maxMs: number;
}

// One second first: long enough for a dead gateway to leave the balancer's rotation, short enough
// that a person barely notices. Thirty seconds at most: an outage costs a retry per half minute.
export const RECONNECT_POLICY: BackoffPolicy = { baseMs: 1000, maxMs: 30_000 };

/**
 * The wait before reconnect attempt `attempt` (0 for the first): "equal jitter", half of the
 * exponential step fixed and half random, so a retry never comes back at once yet still spreads.
 */
export function reconnectDelay(
  attempt: number,
  random: () => number,
  policy: BackoffPolicy = RECONNECT_POLICY,
): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

// A draining gateway asks every client to move: spread them over this window.
export const DRAIN_SPREAD_MS = 1000;

export function drainDelay(random: () => number): number {
  return Math.round(random() * DRAIN_SPREAD_MS);
}
