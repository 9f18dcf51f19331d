"""Admission of new sessions: how many ``connect``s this gateway handles at once.

A restarted gateway or a balancer failover sends thousands of connects at once. Handled all
together they would share out the Redis pool with the sessions already open and time out
together; queued, they are served in arrival order as fast as the gateway can serve them,
open sessions keep their share, and a connect that would wait too long gets a clear,
retryable answer (close 1013) instead of a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ConnectAdmission:
    def __init__(self, limit: int, wait_s: float) -> None:
        self._turns = asyncio.Semaphore(limit)  # FIFO: waiters are served in arrival order
        self._wait_s = wait_s

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[bool]:
        """True inside once it is this connect's turn; False when it waited ``wait_s`` in vain."""
        try:
            async with asyncio.timeout(self._wait_s):
                await self._turns.acquire()
        except TimeoutError:
            yield False
            return
        try:
            yield True
        finally:
            self._turns.release()
