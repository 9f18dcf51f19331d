"""``Presence`` on Redis (presence.py says what it keeps): sorted sets scored by expiry time.

Entries are pushed forward by each gateway's heartbeat, so the entries of a gateway killed with
SIGKILL lapse by themselves. Each transition (first join, last leave, lapse) is reported by
exactly one caller, because the script that makes it is the one that sees it.

Keys (the room id embeds in each): ``presence:<room>`` user → expiry,
``presence:<room>:<user>`` connection → expiry, ``presence-names:<room>`` user → display name,
``conns:<user>`` connection → expiry, ``announced:presence:<room>:<user>`` the last
announcement (state, time). Under a Redis Cluster the room (or, for ``conns:``, the user) is the
key's hash tag (``presence:{<room>}:<user>``): every script here touches one room's keys, or one
user's, so each runs on the one node that owns them.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

from redis.asyncio.cluster import RedisCluster

from chat_common.redis_client import KeyLayout, RedisClient
from chat_gateway.presence import Member, OnlineUser

# KEYS: the user's connection set. ARGV: now ms, expiry ms, max, connection id.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2] - ARGV[1])
return 1
"""

# KEYS: room users, user's connections in the room, names. ARGV: now, expiry, user, conn, name.
# Returns 1 when this made the user online in the room.
_ENTER = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local before = redis.call('ZCARD', KEYS[2])
local ttl = ARGV[2] - ARGV[1]
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ttl)
if before == 0 then return 1 end
return 0
"""

# KEYS: room users, user's connections in the room, names. ARGV: now, user, conn.
# Returns 1 when this made the user offline in the room.
_LEAVE = """
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
if redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 1
end
return 0
"""

# KEYS: room users, names. ARGV: now, connection-set key prefix ("presence:{room}:").
# Returns the users (id, name, ...) whose every connection lapsed, removing them.
_SWEEP = """
local lapsed = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  local conns = ARGV[2] .. user
  redis.call('ZREMRANGEBYSCORE', conns, '-inf', ARGV[1])
  if redis.call('ZCARD', conns) == 0 and redis.call('ZREM', KEYS[1], user) == 1 then
    local name = redis.call('HGET', KEYS[2], user)
    redis.call('HDEL', KEYS[2], user)
    table.insert(lapsed, user)
    table.insert(lapsed, name or user)
  end
end
return lapsed
"""


# KEYS: last announcement of the user in the room (hash: state, at), the room's users.
# ARGV: now ms, interval ms, user id.
# Returns {state to announce or '', ms to wait before asking again (0: nothing to wait for)}.
# What was said is remembered for two intervals: long enough to fold the changes of one
# interval and to see, at its end, whether anything new is left to say; once it is gone the
# next change is announced at once.
_ANNOUNCEMENT = """
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


class RedisPresence:
    def __init__(self, redis: RedisClient, *, ttl_s: float) -> None:
        self._redis = redis
        self._keys = PresenceKeys(KeyLayout.of(redis))
        self._ttl_ms = int(ttl_s * 1000)
        self._admit = redis.register_script(_ADMIT)
        self._enter = redis.register_script(_ENTER)
        self._leave = redis.register_script(_LEAVE)
        self._sweep = redis.register_script(_SWEEP)
        self._announcement = redis.register_script(_ANNOUNCEMENT)

    def _now_and_expiry(self) -> tuple[int, int]:
        now = int(time.time() * 1000)
        return now, now + self._ttl_ms

    async def admit_connection(self, user_id: str, connection: str, limit: int) -> bool:
        # The cap's count and the new entry are one step: two gateways admitting the same
        # user's connections at once cannot both take the last place.
        now, expiry = self._now_and_expiry()
        admitted = await self._admit(
            keys=[self._keys.connections(user_id)], args=[now, expiry, limit, connection]
        )
        return bool(admitted)

    async def enter(self, room: str, member: Member) -> bool:
        now, expiry = self._now_and_expiry()
        first = await self._enter(
            keys=self._keys.room(room, member.id),
            args=[now, expiry, member.id, member.connection, member.name],
        )
        return bool(first)

    async def leave(self, room: str, member: Member) -> bool:
        now, _ = self._now_and_expiry()
        last = await self._leave(
            keys=self._keys.room(room, member.id), args=[now, member.id, member.connection]
        )
        return bool(last)

    async def depart(self, member: Member, rooms: list[str]) -> list[str]:
        # One round trip: a burst of disconnects then needs one pooled connection per
        # session, once.
        now, _ = self._now_and_expiry()
        redis = self._redis
        if isinstance(redis, RedisCluster):
            # A cluster pipeline takes no script; the rooms' nodes answer side by side.
            last = await asyncio.gather(
                *(
                    self._leave(
                        keys=self._keys.room(room, member.id),
                        args=[now, member.id, member.connection],
                    )
                    for room in rooms
                )
            )
            await redis.zrem(self._keys.connections(member.id), member.connection)
        else:
            async with redis.pipeline(transaction=False) as pipe:
                for room in rooms:
                    await self._leave(
                        keys=self._keys.room(room, member.id),
                        args=[now, member.id, member.connection],
                        client=pipe,
                    )
                pipe.zrem(self._keys.connections(member.id), member.connection)
                last = await pipe.execute()
        return [room for room, went in zip(rooms, last, strict=False) if went]

    async def sweep(self, room: str) -> list[OnlineUser]:
        now, _ = self._now_and_expiry()
        flat = cast(
            "list[bytes]",
            await self._sweep(
                keys=[self._keys.users(room), self._keys.names(room)],
                args=[now, self._keys.connections_in_prefix(room)],
            ),
        )
        return [OnlineUser(flat[i].decode(), flat[i + 1].decode()) for i in range(0, len(flat), 2)]

    async def online(self, room: str, limit: int) -> list[OnlineUser]:
        now, _ = self._now_and_expiry()
        users = cast(
            "list[bytes]",
            await self._redis.zrangebyscore(
                self._keys.users(room), now, "+inf", start=0, num=limit
            ),
        )
        if not users:
            return []
        names = cast("list[bytes | None]", await self._redis.hmget(self._keys.names(room), users))
        online = [
            OnlineUser(user.decode(), (name or user).decode())
            for user, name in zip(users, names, strict=True)
        ]
        return sorted(online, key=lambda user: (user.name, user.id))

    async def online_among(self, room: str, user_ids: list[str]) -> set[str]:
        if not user_ids:
            return set()
        now, _ = self._now_and_expiry()
        # Scored by expiry: a lapsed entry (its gateway died) is offline until swept.
        scores = await self._redis.zmscore(self._keys.users(room), user_ids)
        return {user for user, score in zip(user_ids, scores, strict=True) if score and score > now}

    async def heartbeat(
        self, connections: list[tuple[str, str]], memberships: list[tuple[str, Member]]
    ) -> None:
        if not connections and not memberships:
            return
        _, expiry = self._now_and_expiry()
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, connection in connections:
                pipe.zadd(self._keys.connections(user_id), {connection: expiry})
                pipe.pexpire(self._keys.connections(user_id), self._ttl_ms)
            for room, member in memberships:
                users, conns, names = self._keys.room(room, member.id)
                pipe.zadd(conns, {member.connection: expiry})
                pipe.pexpire(conns, self._ttl_ms)
                pipe.zadd(users, {member.id: expiry}, gt=True)
                pipe.pexpire(users, self._ttl_ms)
                pipe.pexpire(names, self._ttl_ms)
            await pipe.execute()

    async def announcement(self, room: str, user_id: str, interval_ms: int) -> tuple[str, int]:
        state, wait_ms = await self._announcement(
            keys=[self._keys.said(room, user_id), self._keys.users(room)],
            args=[int(time.time() * 1000), interval_ms, user_id],
        )
        return state.decode(), int(wait_ms)


class PresenceKeys:
    """Presence's key names for the topology: a room's keys tagged by the room, a user's
    connection set by the user, under a Cluster; the names they always had elsewhere."""

    def __init__(self, layout: KeyLayout) -> None:
        self.layout = layout

    def connections(self, user_id: str) -> str:
        return f"conns:{self.layout.tag(user_id)}"

    def users(self, room: str) -> str:
        return f"presence:{self.layout.tag(room)}"

    def names(self, room: str) -> str:
        return f"presence-names:{self.layout.tag(room)}"

    def connections_in_prefix(self, room: str) -> str:
        """Of the key of a user's connections in ``room``, what comes before the user."""
        return f"presence:{self.layout.tag(room)}:"

    def room(self, room: str, user_id: str) -> list[str]:
        return [self.users(room), self.connections_in_prefix(room) + user_id, self.names(room)]

    def said(self, room: str, user_id: str) -> str:
        return f"announced:presence:{self.layout.tag(room)}:{user_id}"
