"""An in-memory ``Presence`` for unit tests: ``RedisPresence``'s rules on dictionaries, shared
by the gateways of one test as one Redis is (``test_presence_contract.py`` runs both)."""

from __future__ import annotations

import time
from collections.abc import Callable

from chat_gateway.presence import Member, OnlineUser

Clock = Callable[[], float]


class MemoryPresence:
    def __init__(self, *, ttl_s: float = 60.0, clock: Clock = time.time) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._connections: dict[str, dict[str, float]] = {}  # user → connection → expiry
        self._in_room: dict[tuple[str, str], dict[str, float]] = {}  # (room, user) → conn → exp
        self._users: dict[str, dict[str, float]] = {}  # room → user → expiry
        self._names: dict[str, dict[str, str]] = {}  # room → user → name
        self._said: dict[tuple[str, str], tuple[str, float, float]] = {}  # state, at, expiry

    async def admit_connection(self, user_id: str, connection: str, limit: int) -> bool:
        now = self._clock()
        open_now = _unexpired(self._connections.setdefault(user_id, {}), now)
        if len(open_now) >= limit:
            return False
        open_now[connection] = now + self._ttl_s
        return True

    async def enter(self, room: str, member: Member) -> bool:
        now = self._clock()
        expiry = now + self._ttl_s
        connections = _unexpired(self._in_room.setdefault((room, member.id), {}), now)
        first = not connections
        connections[member.connection] = expiry
        users = self._users.setdefault(room, {})
        users[member.id] = max(users.get(member.id, 0.0), expiry)
        self._names.setdefault(room, {})[member.id] = member.name
        return first

    async def leave(self, room: str, member: Member) -> bool:
        now = self._clock()
        connections = self._in_room.get((room, member.id), {})
        connections.pop(member.connection, None)
        if _unexpired(connections, now):
            return False
        if self._users.get(room, {}).pop(member.id, None) is None:
            return False
        self._names.get(room, {}).pop(member.id, None)
        return True

    async def depart(self, member: Member, rooms: list[str]) -> list[str]:
        went = [room for room in rooms if await self.leave(room, member)]
        self._connections.get(member.id, {}).pop(member.connection, None)
        return went

    async def sweep(self, room: str) -> list[OnlineUser]:
        now = self._clock()
        users = self._users.get(room, {})
        lapsed = []
        for user, expiry in sorted(users.items(), key=lambda item: (item[1], item[0])):
            if expiry > now or _unexpired(self._in_room.get((room, user), {}), now):
                continue
            del users[user]
            lapsed.append(OnlineUser(user, self._names.get(room, {}).pop(user, user)))
        return lapsed

    async def online(self, room: str, limit: int) -> list[OnlineUser]:
        now = self._clock()
        users = self._users.get(room, {})
        first = sorted((expiry, user) for user, expiry in users.items() if expiry > now)[:limit]
        names = self._names.get(room, {})
        online = [OnlineUser(user, names.get(user, user)) for _, user in first]
        return sorted(online, key=lambda user: (user.name, user.id))

    async def online_among(self, room: str, user_ids: list[str]) -> set[str]:
        now = self._clock()
        users = self._users.get(room, {})
        return {user for user in user_ids if users.get(user, 0.0) > now}

    async def heartbeat(
        self, connections: list[tuple[str, str]], memberships: list[tuple[str, Member]]
    ) -> None:
        expiry = self._clock() + self._ttl_s
        for user_id, connection in connections:
            self._connections.setdefault(user_id, {})[connection] = expiry
        for room, member in memberships:
            self._in_room.setdefault((room, member.id), {})[member.connection] = expiry
            users = self._users.setdefault(room, {})
            users[member.id] = max(users.get(member.id, 0.0), expiry)

    async def announcement(self, room: str, user_id: str, interval_ms: int) -> tuple[str, int]:
        now = self._clock()
        state = "online" if self._users.get(room, {}).get(user_id, 0.0) > now else "offline"
        said = self._said.get((room, user_id))
        if said is not None and said[2] <= now:
            said = None
        if said is not None and said[0] == state:
            return "", 0
        interval_s = interval_ms / 1000
        if said is not None and now - said[1] < interval_s:
            return "", max(1, round((interval_s - (now - said[1])) * 1000))
        self._said[(room, user_id)] = (state, now, now + 2 * interval_s)
        return state, 0


def _unexpired(entries: dict[str, float], now: float) -> dict[str, float]:
    for key in [key for key, expiry in entries.items() if expiry <= now]:
        del entries[key]
    return entries
