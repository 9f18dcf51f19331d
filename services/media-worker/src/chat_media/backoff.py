"""Capped exponential backoff with jitter, for waiting out a dependency outage."""

from __future__ import annotations

import random
from collections.abc import Iterator

# Up to a fifth off each delay, so that workers that failed together do not retry in step.
JITTER = 0.2


def backoff_delays(initial_s: float, cap_s: float, factor: float = 2.0) -> Iterator[float]:
    """Delays in seconds: initial, doubling, then cap forever; each shortened by jitter."""
    delay = initial_s
    while True:
        yield delay * (1 - JITTER * random.random())
        delay = min(delay * factor, cap_s)
