"""The room list a person sees (``GET /v1/rooms``): their own rooms, and the directory of public
rooms one page at a time.

Both parts are bounded, whatever the database holds: a deployment with a hundred thousand public
rooms answers every client's room-list poll with the same few kilobytes. Own rooms are those
the person has a membership in (rooms they created or were added to, private rooms, DMs), at
most ``max_own_rooms_listed``, most recently active first. The directory is every public room
the person is neither a member of nor banned from, most recently active first, in pages of at
most ``directory_page_size``, optionally only names starting with a prefix; a page ends with the
cursor of the next one. Order and cursor are on ``(last_active_at, id)``, unique per room, so a
page boundary never skips or repeats a room that keeps its place.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from chat_common.errors import ChatError, ErrorCode

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ROOM_NAME = re.compile(r"[a-z0-9_-]{1,64}")


class ListedRoom(msgspec.Struct, frozen=True):
    id: str
    kind: str
    read_only: bool
    # Whether the person has a membership in it (their own rooms), else a directory entry.
    member: bool
    last_active_at: datetime
    topic: str = ""


class DirectoryCursor(msgspec.Struct, frozen=True):
    """Where a directory page ended: the next page starts just below this room."""

    last_active_at: datetime
    room: str

    def encode(self) -> str:
        """Opaque to clients: the position in microseconds (exact, unlike a float) and the id."""
        micros = (self.last_active_at - _EPOCH) // _MICROSECOND
        return base64.urlsafe_b64encode(f"{micros}:{self.room}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> DirectoryCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            micros, room = raw.split(":", 1)
            at = _EPOCH + int(micros) * _MICROSECOND
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
            raise ChatError(ErrorCode.BAD_REQUEST, "cursor is not one this server gave") from None
        if not _ROOM_NAME.fullmatch(room):
            raise ChatError(ErrorCode.BAD_REQUEST, "cursor is not one this server gave")
        return cls(at, room)


def name_prefix_pattern(prefix: str) -> str:
    """A LIKE pattern for names starting with ``prefix`` (room names may contain ``_``, which
    LIKE would take for any character; ``%`` and ``\\`` cannot occur in a room name)."""
    return prefix.replace("_", "\\_") + "%"


_OWN = """
SELECT r.id, r.kind, r.read_only, r.last_active_at, r.topic
FROM room_members m JOIN rooms r ON r.id = m.room
WHERE m.user_id = $1
ORDER BY r.last_active_at DESC, r.id DESC
LIMIT $2
"""
# Each filter is a fixed fragment, so every combination is its own prepared statement with a
# plan for it (a generic "$n IS NULL OR …" plan would ignore the indexes).
_DIRECTORY = """
SELECT r.id, r.kind, r.read_only, r.last_active_at, r.topic FROM rooms r
WHERE r.kind = 'public'
  AND NOT EXISTS (SELECT 1 FROM room_members m WHERE m.room = r.id AND m.user_id = $1)
  AND NOT EXISTS (SELECT 1 FROM room_bans b WHERE b.room = r.id AND b.user_id = $1)"""
_AFTER = "\n  AND (r.last_active_at, r.id) < (${}, ${})"
_PREFIX = "\n  AND r.id LIKE ${}"
_ORDER = "\nORDER BY r.last_active_at DESC, r.id DESC\nLIMIT $2"


class RoomCatalog:
    """The room list's reads from Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def own(self, user_id: str, limit: int) -> list[ListedRoom]:
        rows = await self._pool.fetch(_OWN, user_id, limit)
        return [_listed(row, member=True) for row in rows]

    async def directory(
        self, user_id: str, limit: int, *, prefix: str | None, after: DirectoryCursor | None
    ) -> tuple[list[ListedRoom], DirectoryCursor | None]:
        """One page of the directory and the cursor of the next (None at the end)."""
        filters, args = "", [user_id, limit + 1]
        if after is not None:
            filters += _AFTER.format(len(args) + 1, len(args) + 2)
            args += [after.last_active_at, after.room]
        if prefix is not None:
            filters += _PREFIX.format(len(args) + 1)
            args.append(name_prefix_pattern(prefix))
        rows = await self._pool.fetch(_DIRECTORY + filters + _ORDER, *args)
        page = [_listed(row, member=False) for row in rows[:limit]]
        more = len(rows) > limit
        return page, DirectoryCursor(page[-1].last_active_at, page[-1].id) if more else None


def _listed(row: asyncpg.Record, *, member: bool) -> ListedRoom:
    return ListedRoom(
        row["id"], row["kind"], row["read_only"], member, row["last_active_at"], row["topic"]
    )
