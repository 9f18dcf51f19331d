"""Who may join, read, post and moderate where (G6): deny by default.

- public rooms: every signed-in user who is not banned there;
- private rooms: their members only;
- ``dm:<a>:<b>`` (a < b): exactly users a and b, nobody else whatever their roles;
- read-only rooms: posts from the room's owner and moderators and global moderators/admins;
- muted users cannot post until the mute ends; banned users cannot join, read or post.
Global ``admin`` may do anything else. Moderation follows rank: admin > global moderator > room
owner > room moderator > member, and nobody acts on a person of their own rank or above.

Checks only read. Creating what a join names (a public room named for the first time, a direct
message's row, the person's membership of a public room) is the separate step ``enter``, and
ending a membership the separate step ``leave``. Decisions use a cache that every gateway drops at
once when a membership, mute or ban changes (``room_events``), and that expires by itself after a
while in case an invalidation was lost (Redis pub/sub is at-most-once). While Postgres cannot be
reached, an expired decision is used for a bounded while longer instead of refusing everyone
(``stale_if_error_s``): nothing can change it meanwhile, since every change is a Postgres write.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
import msgspec

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.people import PeopleDirectory
from chat_gateway.roster import RoomRoster, Standing, dm_members, ensure_dm
from chat_gateway.store import Room, RoomDirectory

_CACHE_ENTRIES = 50_000
# Postgres unreachable: refused connections, connections cut mid-query, a server restarting.
_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
)
_STAFF = frozenset({"admin", "moderator"})
_ROOM_STAFF = frozenset({"owner", "moderator"})
_GLOBAL_RANK = {"admin": 4, "moderator": 3}
_ROOM_RANK = {"owner": 2, "moderator": 1, "member": 0}


def rank(roles: tuple[str, ...], room_role: str | None) -> int:
    """Where a person stands in a room: the higher of their global and room ranks."""
    return max([_ROOM_RANK.get(room_role or "", 0), *(_GLOBAL_RANK.get(role, 0) for role in roles)])


class Caller:
    __slots__ = ("roles", "user_id")

    def __init__(self, user_id: str, roles: tuple[str, ...]) -> None:
        self.user_id = user_id
        self.roles = roles

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class Entry(msgspec.Struct, frozen=True):
    """A room entered, and the people the entry made members of it (the person joining a
    public room for the first time; both people of a direct message on its first use)."""

    room: Room
    added: tuple[str, ...] = ()


class RoomChecks(Protocol):
    """The checks a session and the message path ask for (``RoomAccess`` answers them from
    Postgres); each raises ``ChatError`` with the reason when the answer is no."""

    async def enter(self, caller: Caller, room: str, *, create: bool = True) -> Entry:
        """The read check, then what a join makes: the room (``create``: a public room named
        for the first time, when rooms are created on join), a direct message's row, the
        caller's membership of a public room."""
        ...

    async def open_direct(self, room: str) -> Entry: ...

    async def leave(self, caller: Caller, room: str, *, public_only: bool) -> bool:
        """End the caller's membership (``public_only``: only of a public room, as a WebSocket
        ``leave`` does); True when one ended."""
        ...

    async def for_read(self, caller: Caller, room: str) -> Room: ...

    async def for_send(self, caller: Caller, room: str) -> Room: ...

    async def is_staff(self, caller: Caller, room: str) -> bool:
        """The room's owner or a moderator of it, or a global moderator or admin: who may
        delete other people's messages."""
        ...

    def forget(self, room: str, user_id: str | None) -> None:
        """Drop what is known of a room (``user_id`` None) or of one user's standing in it."""


class RoomAccess:
    def __init__(
        self,
        pool: asyncpg.Pool,
        rooms: RoomDirectory,
        roster: RoomRoster,
        people: PeopleDirectory,
        *,
        create_on_join: bool,
        cache_ttl_s: float,
        stale_if_error_s: float = 0.0,
    ) -> None:
        self._pool = pool
        self._rooms = rooms
        self._roster = roster
        self._people = people
        self._create_on_join = create_on_join
        self._cache_ttl_s = cache_ttl_s
        self._stale_if_error_s = stale_if_error_s
        self._room_cache: dict[str, tuple[float, Room]] = {}
        self._standing_cache: dict[tuple[str, str], tuple[float, Standing]] = {}

    # -- decisions ----------------------------------------------------------------------------

    async def enter(self, caller: Caller, room: str, *, create: bool = True) -> Entry:
        """A join: the read check, then what the join creates (a public room named for the
        first time when rooms are created on join; a direct message's row on its first use;
        the caller's membership of a public room)."""
        pair = dm_members(room)
        if pair is not None:
            await self._direct(caller, room, pair)
            return await self.open_direct(room)
        if create and self._create_on_join and await self._lookup(room) is None:
            self._remember_room(await self._rooms.create_public(room, caller.user_id))
        found = await self._readable(caller, room)
        if found.kind != "public" or (await self.standing(room, caller.user_id)).role is not None:
            return Entry(found)
        added = await self._roster.join_public(room, caller.user_id)
        self._standing_cache.pop((room, caller.user_id), None)
        return Entry(found, (caller.user_id,) if added else ())

    async def open_direct(self, room: str) -> Entry:
        """Make a checked direct message exist for both people, so it shows in their room
        lists; once per room per gateway."""
        if room in self._room_cache:
            return Entry(Room(room, "dm", False))
        pair = dm_members(room)
        assert pair is not None
        started = await ensure_dm(self._pool, room, *pair)
        self._remember_room(Room(room, "dm", False))
        return Entry(Room(room, "dm", False), pair if started else ())

    async def leave(self, caller: Caller, room: str, *, public_only: bool) -> bool:
        if dm_members(room) is not None:
            if public_only:
                return False
            raise ChatError(ErrorCode.BAD_REQUEST, "a direct message cannot be left")
        found = await self._lookup(room)
        if found is None:
            if public_only:
                return False
            raise ChatError(ErrorCode.NOT_FOUND, f"no room {room}")
        if found.kind != "public":
            if public_only:
                return False
            if (await self._roster.standing(room, caller.user_id)).role == "owner":
                raise ChatError(
                    ErrorCode.FORBIDDEN,
                    "the owner cannot leave a private room: nobody could add anyone to it",
                )
        left = await self._roster.leave(room, caller.user_id)
        self._standing_cache.pop((room, caller.user_id), None)
        return left

    async def for_read(self, caller: Caller, room: str) -> Room:
        return await self._readable(caller, room)

    async def for_send(self, caller: Caller, room: str) -> Room:
        found = await self._readable(caller, room)
        standing = await self.standing(room, caller.user_id)
        if standing.muted_until is not None and standing.muted_until > datetime.now(UTC):
            until = standing.muted_until.astimezone(UTC).isoformat(timespec="seconds")
            raise ChatError(ErrorCode.FORBIDDEN, f"you are muted in this room until {until}")
        if found.read_only and not self._is_staff(caller, standing):
            raise ChatError(ErrorCode.FORBIDDEN, f"room {room} is read-only")
        return found

    async def is_staff(self, caller: Caller, room: str) -> bool:
        return self._is_staff(caller, await self.standing(room, caller.user_id))

    async def for_moderation(self, caller: Caller, room: str) -> Room:
        found = await self._lookup(room)
        if found is None or found.kind == "dm":
            raise ChatError(ErrorCode.NOT_FOUND, f"no room {room}")
        if not self._is_staff(caller, await self.standing(room, caller.user_id)):
            raise ChatError(ErrorCode.FORBIDDEN, "only the room's owner and moderators may do that")
        return found

    async def for_acting_on(
        self, caller: Caller, room: str, target: str, grant: str | None = None
    ) -> Room:
        """A moderation step on ``target`` (and, for ``grant``, giving them that room role):
        staff of the room who outrank the target and the role they grant."""
        found = await self.for_moderation(caller, room)
        if caller.user_id == target:
            raise ChatError(ErrorCode.FORBIDDEN, "moderation does not apply to yourself")
        if not await self._people.exists(target):
            raise ChatError(ErrorCode.NOT_FOUND, f"no user {target}")
        mine = rank(caller.roles, (await self.standing(room, caller.user_id)).role)
        theirs = rank(
            await self._people.roles(target), (await self._roster.standing(room, target)).role
        )
        if theirs >= mine:
            raise ChatError(
                ErrorCode.FORBIDDEN, "only someone of higher rank may do that to this person"
            )
        if grant is not None and _ROOM_RANK[grant] >= mine:
            raise ChatError(ErrorCode.FORBIDDEN, f"only someone of higher rank may grant {grant}")
        return found

    def _is_staff(self, caller: Caller, standing: Standing) -> bool:
        return bool(_STAFF.intersection(caller.roles)) or standing.role in _ROOM_STAFF

    async def _readable(self, caller: Caller, room: str) -> Room:
        pair = dm_members(room)
        if pair is not None:
            return await self._direct(caller, room, pair)
        found = await self._lookup(room)
        if found is None:
            raise ChatError(ErrorCode.NOT_FOUND, f"no room {room}")
        if caller.is_admin:
            return found
        standing = await self.standing(room, caller.user_id)
        if standing.banned:
            raise ChatError(ErrorCode.FORBIDDEN, "you are banned from this room")
        if found.kind != "public" and standing.role is None:
            raise ChatError(ErrorCode.FORBIDDEN, "not a member of this room")
        return found

    async def _direct(self, caller: Caller, room: str, pair: tuple[str, str]) -> Room:
        if pair[0] >= pair[1]:
            raise ChatError(ErrorCode.BAD_REQUEST, "a dm room is dm:<smaller id>:<larger id>")
        if caller.user_id not in pair:  # no exception, not even for admins: DMs are private
            raise ChatError(ErrorCode.FORBIDDEN, "not a member of this room")
        for person in pair:
            if not await self._people.exists(person):
                raise ChatError(ErrorCode.NOT_FOUND, f"no user {person}")
        return Room(room, "dm", False)

    # -- cache --------------------------------------------------------------------------------

    async def standing(self, room: str, user_id: str) -> Standing:
        key = (room, user_id)
        cached = self._standing_cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            standing = await self._roster.standing(room, user_id)
        except _DATABASE_ERRORS:
            if cached is None or not self._usable_stale(cached[0]):
                raise
            return cached[1]
        if len(self._standing_cache) >= _CACHE_ENTRIES:
            self._standing_cache.clear()
        self._standing_cache[key] = (time.monotonic() + self._cache_ttl_s, standing)
        return standing

    async def _lookup(self, room: str) -> Room | None:
        cached = self._room_cache.get(room)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            found = await self._rooms.get(room)
        except _DATABASE_ERRORS:
            if cached is None or not self._usable_stale(cached[0]):
                raise
            return cached[1]
        if found is not None:
            self._remember_room(found)
        return found

    def _usable_stale(self, expired_at: float) -> bool:
        return time.monotonic() < expired_at + self._stale_if_error_s

    def _remember_room(self, room: Room) -> None:
        if len(self._room_cache) >= _CACHE_ENTRIES:
            self._room_cache.clear()
        self._room_cache[room.id] = (time.monotonic() + self._cache_ttl_s, room)

    def forget(self, room: str, user_id: str | None) -> None:
        """Drop what is known of a room (``user_id`` None) or of one user's standing in it."""
        if user_id is None:
            self._room_cache.pop(room, None)
            for key in [key for key in self._standing_cache if key[0] == room]:
                del self._standing_cache[key]
        else:
            self._standing_cache.pop((room, user_id), None)
