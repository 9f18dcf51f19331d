"""Per-connection limits that need no shared state: a token bucket and a fading strike count.

Pure logic with an injectable clock, so the rules are unit-tested without a server. Limits that
must hold across connections and gateways (send rate, connections per user) live in Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``burst`` actions at once, then ``rate_per_s`` per second."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> int:
        """0 when the action may go ahead (and it is counted), else milliseconds to wait."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0
        return max(1, int((1 - self._tokens) / self._rate * 1000) + 1)


class StrikeMeter:
    """Refusals of one connection, fading at ``decay_per_s``; reaching ``limit`` means flooding.

    Success does not clear the count: a flood interleaved with commands that succeed is still a
    flood. A client that hits a limit now and then never gets near it.
    """

    def __init__(self, limit: int, decay_per_s: float, clock: Clock = time.monotonic) -> None:
        self._limit = limit
        self._decay = decay_per_s
        self._clock = clock
        self._count = 0.0
        self._at = clock()

    def strike(self) -> bool:
        """Count one refusal; True when the connection is now flooding."""
        now = self._clock()
        self._count = max(0.0, self._count - (now - self._at) * self._decay) + 1
        self._at = now
        return self._count >= self._limit
