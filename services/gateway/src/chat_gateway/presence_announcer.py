"""Presence announcements, at most one per user and room per interval (G5).

A change of a user's presence in a room (first connection in, last one out, a lapse) asks for
an announcement; what is announced is the state presence holds at that moment, and only when it
differs from the last one announced. Within the interval after an announcement, changes are
folded: one announcement of the state at the interval's end, or none when the user is back
where they were (a reloaded tab). So a client cycling join and leave, on any number of
connections and gateways, costs each member of the room at most one event per interval.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from chat_gateway.presence import Presence

log = logging.getLogger(__name__)


class Announce(Protocol):
    async def __call__(self, room: str, event: dict[str, Any]) -> None: ...


class PresenceAnnouncer:
    def __init__(self, presence: Presence, announce: Announce, *, interval_s: float) -> None:
        self._presence = presence
        self._announce = announce
        self._interval_ms = int(interval_s * 1000)
        self._pending: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def changed(self, room: str, user_id: str, name: str) -> None:
        """The user's presence in ``room`` may have changed: announce it, now or later."""
        state, wait_ms = await self._presence.announcement(room, user_id, self._interval_ms)
        if state:
            user = {"id": user_id, "name": name}
            await self._announce(
                room, {"type": "presence", "room": room, "user": user, "state": state}
            )
        elif wait_ms > 0 and (room, user_id) not in self._pending:
            self._pending[(room, user_id)] = asyncio.get_running_loop().call_later(
                wait_ms / 1000, self._ask_again, room, user_id, name
            )

    def _ask_again(self, room: str, user_id: str, name: str) -> None:
        self._pending.pop((room, user_id), None)
        task = asyncio.get_running_loop().create_task(self._again(room, user_id, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _again(self, room: str, user_id: str, name: str) -> None:
        try:
            await self.changed(room, user_id, name)
        except Exception as exc:
            # Members converge anyway: each join reply lists who is online.
            log.warning("presence announcement failed", extra={"room": room, "error": repr(exc)})

    def close(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        for task in self._tasks:
            task.cancel()
