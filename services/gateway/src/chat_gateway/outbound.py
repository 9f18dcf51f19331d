"""A connection's outbound queue, bounded in bytes (G5).

The queue is drained by one writer task. A reader too slow to keep up fills it; past the limit
the connection is closed (4008 slow consumer) instead of growing memory or making the fan-out
wait: ``push`` never blocks.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable


class Outbound:
    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        *,
        limit_bytes: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._send = send
        self._limit = limit_bytes
        self._on_overflow = on_overflow
        self._frames: collections.deque[str] = collections.deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self._closed = False
        self._writer: asyncio.Task[None] | None = None

    @property
    def queued_bytes(self) -> int:
        return self._queued

    def push(self, frame: str) -> bool:
        if self._closed:
            return False
        # len() of a str counts characters; frames are mostly ASCII JSON, and the bound only
        # needs to be right within a small factor.
        size = len(frame)
        # An empty queue takes any one frame: a reply is bounded where it is built, and must
        # never count as a slow reader by itself; a backlog past the limit still does.
        if self._queued and self._queued + size > self._limit:
            self._closed = True
            self._on_overflow()
            return False
        self._frames.append(frame)
        self._queued += size
        self._ready.set()
        return True

    def close(self) -> None:
        self._closed = True
        self._frames.clear()
        self._queued = 0
        self._ready.set()

    async def stop(self) -> None:
        """Close and wait for the writer to let go of the socket: a close frame must not be
        written while a frame write is still waiting for the peer (the WebSocket server allows
        one waiting writer at a time)."""
        self.close()
        writer = self._writer
        if writer is not None and not writer.done() and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def run(self) -> None:
        self._writer = asyncio.current_task()
        while True:
            await self._ready.wait()
            if self._closed:
                return
            while self._frames:
                frame = self._frames.popleft()
                self._queued -= len(frame)
                await self._send(frame)
            self._ready.clear()

    async def flush(self, limit_s: float) -> None:
        """Wait until the queue is empty (e.g. before a close frame), at most ``limit_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while self._frames and loop.time() < deadline:
            await asyncio.sleep(0.01)
