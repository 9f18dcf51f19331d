"""The traffic the faults are played under, and the checkpoint after each fault.

A ``Stage`` holds the cluster, the people (speakers who send, listeners who only receive, each
on one gateway and reconnecting to the next) and their journals. A checkpoint pauses new
commands, waits until every command in flight is answered, every acknowledged entry is stored
and every connected client holds its rooms to the newest entry, and then runs the checker over
everything since the start: a breach found is never forgotten by a later checkpoint.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from chaos.checker import StoredEntry, StoredReaction, Verdict, check
from chaos.cluster import Cluster
from chaos.journal import Journal
from chaos.speaker import Speaker

# How long a checkpoint waits for each of its conditions before it judges anyway; whatever
# did not happen by then is a breach the checker names.
SETTLE_S = 60.0


@dataclass(frozen=True)
class Traffic:
    speakers: int
    listeners: int
    rooms: int
    rate_per_s: float  # per speaker


@dataclass
class Stage:
    cluster: Cluster
    traffic: Traffic
    rooms: list[str] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _repairs: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        run = uuid.uuid4().hex[:8]
        self.rooms = [f"chaos-{run}-{n}" for n in range(self.traffic.rooms)]
        sign = await self.cluster.system.token_signer()
        people = self.traffic.speakers + self.traffic.listeners
        for n in range(people):
            speaking = n < self.traffic.speakers
            user_id = str(uuid.uuid4())
            name = f"{'speaker' if speaking else 'listener'}-{n}"
            # A speaker is in two rooms, a listener in one: rooms share people across gateways.
            rooms = (
                [self.rooms[n % len(self.rooms)], self.rooms[(n + 1) % len(self.rooms)]]
                if speaking
                else [self.rooms[n % len(self.rooms)]]
            )
            self.add(
                Speaker(
                    Journal(user_id),
                    _tokens(sign, user_id, name),
                    self.cluster.urls,
                    rooms,
                    origin=self.cluster.origin,
                    rate_per_s=self.traffic.rate_per_s if speaking else 0.0,
                    seed=n,
                    first=n,
                )
            )
        await self.until(lambda: all(s.settled for s in self.speakers), SETTLE_S)

    def add(self, speaker: Speaker) -> None:
        self.speakers.append(speaker)
        self._tasks.append(asyncio.create_task(speaker.run(self._stop)))

    def repair(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (a restart) while the recovery is being measured."""
        self._repairs.append(asyncio.create_task(work))

    async def repaired(self) -> None:
        repairs, self._repairs = self._repairs, []
        await asyncio.gather(*repairs)

    async def stop(self) -> None:
        self._stop.set()
        for speaker in self.speakers:
            speaker.drop()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def journals(self) -> list[Journal]:
        return [speaker.journal for speaker in self.speakers]

    def acknowledged_ids(self) -> list[str]:
        return [
            command.acks[0].id
            for journal in self.journals
            for command in journal.commands
            if command.acks
        ]

    async def until(self, condition: Callable[[], bool], limit_s: float) -> bool:
        deadline = time.monotonic() + limit_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    async def stored(self, ids: list[str], limit_s: float = SETTLE_S) -> float | None:
        """Seconds until Postgres holds every one of ``ids`` (None: not within the limit)."""
        began = time.monotonic()
        deadline = began + limit_s
        while await self.cluster.stored_ids(ids) < len(ids):
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.25)
        return time.monotonic() - began

    async def checkpoint(self) -> Verdict:
        for speaker in self.speakers:
            speaker.paused = True
        try:
            await self.until(lambda: all(s.settled for s in self.speakers), SETTLE_S)
            await self.stored(self.acknowledged_ids())
            entries, reactions = await self.cluster.read(self.rooms)
            newest: dict[str, int] = {}
            for row in entries:
                newest[row["room"]] = max(row["seq"], newest.get(row["room"], 0))
            await self.until(
                lambda: all(
                    speaker.newest(room) >= newest.get(room, 0)
                    for speaker in self.speakers
                    if speaker.journal.connected
                    for room in speaker.rooms
                ),
                SETTLE_S / 4,
            )
            # In a thread: over a long run a check takes seconds, and meanwhile every client
            # must still answer its gateway's pings, or the gateways close them all (20 s).
            return await asyncio.to_thread(
                check,
                self.journals,
                [StoredEntry(*row) for row in entries],
                [StoredReaction(*row) for row in reactions],
            )
        finally:
            for speaker in self.speakers:
                speaker.paused = False


def _tokens(
    sign: Callable[[str, str], str], user_id: str, name: str
) -> Callable[[bool], Awaitable[str]]:
    async def token(renew: bool) -> str:
        return sign(user_id, name)  # freshly signed each connect: never expired

    return token
