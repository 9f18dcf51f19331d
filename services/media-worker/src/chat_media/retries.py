"""Work on a record that waits out an outage: Postgres, the object store or the gateway away
means the stream stalls, never that a record is skipped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from prometheus_client import Counter

from chat_media.backoff import backoff_delays

log = logging.getLogger(__name__)

T = TypeVar("T")


class Stopping(Exception):
    """The worker is stopping while a record's work waits; the record will be read again."""


class Retrier:
    def __init__(self, initial_s: float, cap_s: float, retries: Counter) -> None:
        self._initial_s = initial_s
        self._cap_s = cap_s
        self._retries = retries

    def delays(self) -> Iterator[float]:
        return backoff_delays(self._initial_s, self._cap_s)

    async def run(self, work: Callable[[], Awaitable[T]], what: str, stop: asyncio.Event) -> T:
        """``work()`` until it succeeds. Any failure counts as an outage: a schema not migrated
        or a store refusing its credentials is fixed by an operator, not by skipping the
        record; the failure is logged and counted meanwhile."""
        delays = self.delays()
        while True:
            if stop.is_set():
                raise Stopping(what)
            try:
                return await work()
            except Stopping:
                raise
            except Exception as exc:
                delay = next(delays)
                self._retries.inc()
                log.warning(
                    "work on a record failed; retrying",
                    extra={"work": what, "error": repr(exc)[:300], "retry_in_s": round(delay, 3)},
                )
            await pause(delay, stop)


async def pause(seconds: float, stop: asyncio.Event) -> None:
    """Sleeps ``seconds``, or less when the worker is told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
