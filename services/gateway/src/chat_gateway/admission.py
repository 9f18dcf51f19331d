"""Admission of new sessions, and of their cleanup: how much of either runs at once.

A restarted gateway or a balancer failover sends thousands of connects at once. Set up all
together (``connect``, then the first ``join``) they fill the event loop, every Redis and
Postgres round trip waits behind thousands of others, and they time out together. Instead the
server's work on a new session's first commands (``connect`` and the one after it, the join
of the room the client shows) takes turns: at most ``limit`` at once, in arrival order, while
the sessions already set up keep their share. A command that waited ``wait_s`` for its turn
is refused with close 1013 (try again later): a clear, retryable answer instead of a timeout.
When even the queue is long (``pending_limit`` sessions in setup), a new connection is refused
before its handshake with HTTP 503 and ``Retry-After``: in a storm most of the cost of a
refusal is the WebSocket handshake, and a gateway that spent itself on refusals would serve no
one.
Turns cover the server's work only, never a wait for the client, so a slow or idle client
holds none. Cleanups of closed sessions queue the same way, so a disconnect storm delays them
instead of failing them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ConnectAdmission:
    def __init__(self, limit: int, wait_s: float, pending_limit: int) -> None:
        self._turns = asyncio.Semaphore(limit)  # FIFO: waiters are served in arrival order
        self._wait_s = wait_s
        self._pending = 0
        self._pending_limit = pending_limit
        self.cleanups = asyncio.Semaphore(limit)

    @property
    def full(self) -> bool:
        """Too many connections are in setup: refuse the next before its handshake, where
        refusing costs least."""
        return self._pending >= self._pending_limit

    def arrive(self) -> None:
        """Count a new connection in setup, once its handshake is done."""
        self._pending += 1

    def settled(self) -> None:
        """A connection counted by ``arrive`` is set up, or gone."""
        self._pending -= 1

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[bool]:
        """True inside once it is this command's turn; False when it waited ``wait_s`` in vain."""
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
