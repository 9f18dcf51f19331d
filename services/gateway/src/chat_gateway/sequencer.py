"""Per-room sequence numbers (G2): the broker's counter, never allowed to go back.

The broker may lose the counter (Redis restarted without persistence). It is then re-created
from the highest seq in Postgres, but only once the persistence worker has stored everything
already in Kafka; otherwise an acknowledged message still in flight to Postgres could have its
seq reused.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.broker import Broker
from chat_gateway.history import MessageHistory


class PersistenceProgress(Protocol):
    """How far the persistence worker got (``message_log.PersistenceWatch``: its Kafka group)."""

    async def wait_until_stored(self, limit_s: float) -> None:
        """Returns once everything in the log now is stored; raises ``ChatError`` (unavailable)
        after ``limit_s``."""


class Sequencer:
    def __init__(
        self,
        broker: Broker,
        history: MessageHistory,
        watch: PersistenceProgress,
        seed_wait_s: float,
    ) -> None:
        self._broker = broker
        self._history = history
        self._watch = watch
        self._seed_wait_s = seed_wait_s
        # Seeding is rare (once per room after Redis lost its counters): one lock is enough.
        self._seeding = asyncio.Lock()

    async def next(self, room: str) -> int:
        seq = await self._broker.next_seq(room)
        if seq is not None:
            return seq
        async with self._seeding:
            if not await self._broker.has_seq(room):
                await self._seed(room)
        seq = await self._broker.next_seq(room)
        if seq is None:
            raise ChatError(ErrorCode.UNAVAILABLE, "room sequence unavailable; retry shortly")
        return seq

    async def _seed(self, room: str) -> None:
        await self._watch.wait_until_stored(self._seed_wait_s)
        await self._broker.seed_seq(room, await self._history.newest_seq(room))
