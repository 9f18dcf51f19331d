"""Who exists: the people a direct message or a membership may name (Postgres ``users``, owned by
the auth service and only read here), and the directory of people by the start of their name.

Accounts are never deleted, so a user found once is remembered; an unknown id is asked again
after a short while, since it may be registered a moment later.
"""

from __future__ import annotations

import time
import uuid

import asyncpg
import msgspec

from chat_gateway.room_list import name_prefix_pattern

# Known users are kept until this many are cached, then the cache starts over: one entry is a
# few dozen bytes, and a gateway meets far fewer people than this between restarts.
_KNOWN_ENTRIES = 200_000
# An unknown id is asked again after this long: a DM to someone who registered a second ago
# works at the next try, while a script guessing ids costs one query per id per minute.
_UNKNOWN_TTL_S = 60.0

# Names in byte order (``~<~``, the order of ``users_by_name_prefix``'s text_pattern_ops), so a
# page is one range scan of that index however many names share the prefix; usernames are
# ASCII, where byte order is alphabetical with digits first.
_NAMED_FROM = """
SELECT id::text AS id, username FROM users
WHERE username LIKE $1 ORDER BY username USING ~<~ LIMIT $2
"""


class Person(msgspec.Struct, frozen=True):
    id: str
    name: str


class PeopleDirectory:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._known: set[str] = set()
        self._unknown: dict[str, float] = {}

    async def exists(self, user_id: str) -> bool:
        if user_id in self._known:
            return True
        retry_at = self._unknown.get(user_id)
        if retry_at is not None and retry_at > time.monotonic():
            return False
        try:
            key = uuid.UUID(user_id)
        except ValueError:
            return False  # user ids are UUIDs; anything else names nobody
        if str(key) != user_id:
            return False  # one person, one spelling: the canonical form tokens carry
        found = bool(
            await self._pool.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", key)
        )
        if found:
            if len(self._known) >= _KNOWN_ENTRIES:
                self._known.clear()
            self._known.add(user_id)
            self._unknown.pop(user_id, None)
        else:
            if len(self._unknown) >= _KNOWN_ENTRIES:
                self._unknown.clear()
            self._unknown[user_id] = time.monotonic() + _UNKNOWN_TTL_S
        return found

    async def roles(self, user_id: str) -> tuple[str, ...]:
        """The user's global roles (empty for an unknown user); read fresh, for rare decisions
        such as whether a moderator outranks the person they act on."""
        try:
            key = uuid.UUID(user_id)
        except ValueError:
            return ()
        roles = await self._pool.fetchval("SELECT roles FROM users WHERE id = $1", key)
        return tuple(roles or ())

    async def named_from(self, prefix: str, limit: int) -> list[Person]:
        """Up to ``limit`` people whose username starts with ``prefix`` (lower-case), by name."""
        rows = await self._pool.fetch(_NAMED_FROM, name_prefix_pattern(prefix), limit)
        return [Person(row["id"], row["username"]) for row in rows]
