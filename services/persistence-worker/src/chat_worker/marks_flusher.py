"""Writes the authors' read markers of stored batches together: once a second, sooner when
as many are pending as allowed, and once more on shutdown.

Marks come only from committed writes (``MessageStore`` notes them) and are written after them
in one statement, so a batch's transaction holds no marker row locks and many batches of the same
author and room cost one row. A flush that fails keeps its marks for the next one and never
holds up the storing of messages: the markers are a convenience (a badge of one's own
messages), never a message. Marks not yet written when the process dies are lost; that costs
at most one flush interval of "read what one wrote", and the person's next read moves the
marker past them anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from chat_worker.author_marks import Author, AuthorMarks
from chat_worker.metrics import WorkerMetrics
from chat_worker.store import DATABASE_UNAVAILABLE

log = logging.getLogger(__name__)

AdvanceMarks = Callable[[Mapping[Author, int]], Awaitable[None]]


class AuthorMarksFlusher:
    def __init__(
        self,
        advance: AdvanceMarks,
        pending: AuthorMarks,
        interval_s: float,
        metrics: WorkerMetrics,
    ) -> None:
        self._advance = advance
        self._pending = pending
        self._interval_s = interval_s
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._stopping = False
        # After a failed flush the next waits out the interval, however full: no busy loop
        # against a database that is away.
        self._failing = False

    def note(self, marks: Mapping[Author, int]) -> None:
        """Marks of a committed write; flushed early once as many are pending as allowed."""
        dropped = self._pending.merge(marks)
        if dropped:
            self._metrics.author_marks_dropped.inc(dropped)
        if self._pending.full and not self._failing:
            self._wake.set()

    def stop(self) -> None:
        """Ends ``run`` after one last flush."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Flush every interval (early when full) until ``stop``, then once more."""
        while True:
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval_s)
                self._wake.clear()
            # Taken before the flush: once stopped, nothing more is noted, so this flush is the
            # last one needed. A stop during the flush gets one more.
            stopping = self._stopping
            await self.flush()
            if stopping:
                break
        if self._pending:
            log.warning(
                "authors' read markers not written at shutdown", extra={"marks": len(self._pending)}
            )

    async def flush(self) -> None:
        """Write every pending mark; on an outage keep them, merged with newer ones."""
        marks = self._pending.take()
        if not marks:
            return
        try:
            await self._advance(marks)
        except DATABASE_UNAVAILABLE as exc:
            self._failing = True
            self._metrics.author_mark_flush_failures.inc()
            dropped = self._pending.merge(marks)
            if dropped:
                self._metrics.author_marks_dropped.inc(dropped)
            log.warning(
                "writing authors' read markers failed; kept for the next flush",
                extra={"marks": len(marks) - dropped, "dropped": dropped, "error": repr(exc)[:300]},
            )
        else:
            self._failing = False
