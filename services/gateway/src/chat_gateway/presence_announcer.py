"""Presence announcements, at most one per user and room per interval (G5).

A change of a user's presence in a room (first connection in, last one out, a lapse) asks for
an announcement; what is announced is the state Redis holds at that moment, and only when it
differs from the last one announced. Within the interval after an announcement, changes are
folded: one announcement of the state at the interval's end, or none when the user is back
where they were (a reloaded tab). So a client cycling join and leave, on any number of
connections and gateways, costs each member of the room at most one event per interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from redis.asyncio import Redis

from chat_gateway.presence import users_key

log = logging.getLogger(__name__)

# KEYS: last announcement of the user in the room (hash: state, at), the room's users.
# ARGV: now ms, interval ms, user id.
# Returns {state to announce or '', ms to wait before asking again (0: nothing to wait for)}.
_DECIDE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[2], ARGV[3])
local state = 'offline'
if score and tonumber(score) > now then state = 'online' end
local said = redis.call('HMGET', KEYS[1], 'state', 'at')
if said[1] == state then return {'', 0} end
local at = tonumber(said[2])
if at and now - at < interval then return {'', interval - (now - at)} end
redis.call('HSET', KEYS[1], 'state', state, 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[1], interval * 2)
return {state, 0}
"""


class Announce(Protocol):
    async def __call__(self, room: str, event: dict[str, Any]) -> None: ...


class PresenceAnnouncer:
    def __init__(self, redis: Redis, announce: Announce, *, interval_s: float) -> None:
        self._announce = announce
        # What was said is remembered for two intervals: long enough to fold the changes of
        # one interval and to see, at its end, whether anything new is left to say; once it
        # is gone the next change is announced at once.
        self._interval_ms = int(interval_s * 1000)
        self._decide = redis.register_script(_DECIDE)
        self._pending: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def changed(self, room: str, user_id: str, name: str) -> None:
        """The user's presence in ``room`` may have changed: announce it, now or later."""
        state, wait_ms = await self._decide(
            keys=[_said_key(room, user_id), users_key(room)],
            args=[int(time.time() * 1000), self._interval_ms, user_id],
        )
        if state:
            user = {"id": user_id, "name": name}
            await self._announce(
                room, {"type": "presence", "room": room, "user": user, "state": state.decode()}
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


def _said_key(room: str, user_id: str) -> str:
    return f"announced:presence:{room}:{user_id}"
