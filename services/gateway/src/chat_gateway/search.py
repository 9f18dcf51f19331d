"""Full-text search over the messages of given rooms (``GET /v1/search``), newest first.

Words are matched with Postgres full text in the language-neutral ``simple`` configuration (the
expression index of migration 0008), the query read by ``websearch_to_tsquery`` (words, "a
phrase", ``or``, ``-word``), which never fails on what a person types. Hits are ordered and
paged by ``(created_at, room, seq)``, unique per message, so a page boundary never skips or
repeats one. Only the rooms the caller names are searched: deciding which they may read is the
route's, before it asks.

Each hit carries an excerpt as plain text with the offsets of the matched words, never markup:
``ts_headline`` marks which words of the body matched (with two control characters that a
stored body cannot contain, ``chat_common.text``), and ``excerpt_of`` cuts the body itself around
them and says where they are.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.frames import RoomFrame
from chat_gateway.store import SELECT_MESSAGE, frame_of_row

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ROOM_ID = re.compile(r"[a-z0-9_-]{1,64}|dm:[a-z0-9_-]{1,64}:[a-z0-9_-]{1,64}")
_START, _STOP = "\x02", "\x03"
# An excerpt's length: about two lines of a results list; a body as short is shown whole. It
# starts this many characters before the first match, so the match is read in its sentence.
EXCERPT_CHARS = 240
_LEAD_CHARS = 60
_NOT_A_CURSOR = "before is not a cursor this server gave (next_cursor of an earlier page)"
# Every match of the whole body marked: only which words matched is taken from it.
_HEADLINE = f'StartSel="{_START}", StopSel="{_STOP}", HighlightAll=true'


class SearchCursor(msgspec.Struct, frozen=True):
    """Where a page of hits ended: the next page starts just below this message."""

    created_at: datetime
    room: str
    seq: int

    def encode(self) -> str:
        """Opaque to clients: the time in microseconds (exact), the seq, then the room (last,
        as a direct message's id contains the separator)."""
        micros = (self.created_at - _EPOCH) // _MICROSECOND
        raw = f"{micros}:{self.seq}:{self.room}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> SearchCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            micros, seq, room = raw.split(":", 2)
            at, position = _EPOCH + int(micros) * _MICROSECOND, int(seq)
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
            raise ChatError(ErrorCode.BAD_REQUEST, _NOT_A_CURSOR) from None
        if not _ROOM_ID.fullmatch(room) or position < 1:
            raise ChatError(ErrorCode.BAD_REQUEST, _NOT_A_CURSOR)
        return cls(at, room, position)


class Excerpt(msgspec.Struct, frozen=True):
    """Plain text from a body around its matches; ``matches`` are ``[start, length]`` pairs in
    Unicode code points of ``text``, in order, not overlapping."""

    text: str
    matches: list[tuple[int, int]]


class Hit(msgspec.Struct, frozen=True):
    frame: RoomFrame
    excerpt: Excerpt
    cursor: SearchCursor


def matched_words(headline: str) -> set[str]:
    """The words, as the body spells them, that ``ts_headline`` marked with ``_HEADLINE``."""
    return set(re.findall(f"{_START}([^{_STOP}]*){_STOP}", headline)) - {""}


def excerpt_of(body: str, words: set[str], most: int = EXCERPT_CHARS) -> Excerpt:
    """``body`` (cut to about ``most`` characters from a little before its first match, with
    "…" where it was cut) and where ``words`` occur in it as whole words.

    Made from the body itself, never from ``ts_headline``'s text: its parser takes anything
    between ``<`` and ``>`` for an HTML tag and leaves it out, so a message that shows markup
    would read differently in its excerpt."""
    found = _occurrences(body, words)
    start, end = 0, len(body)
    if end > most:
        if found and found[0][0] > _LEAD_CHARS:
            start = found[0][0] - _LEAD_CHARS
            space = body.find(" ", start, found[0][0])  # begin at a word
            start = start if space < 0 else space + 1
        end = start + most
        space = body.rfind(" ", start + most // 2, end)  # end at a word
        end = end if space < 0 else space
    head, tail = "…" if start > 0 else "", "…" if end < len(body) else ""
    shift = len(head) - start
    inside = [(at + shift, size) for at, size in found if at >= start and at + size <= end]
    return Excerpt(head + body[start:end] + tail, inside)


def _occurrences(body: str, words: set[str]) -> list[tuple[int, int]]:
    if not words:
        return []
    # Longest first, so a word that starts another is not matched in its place.
    pattern = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return [
        (match.start(), match.end() - match.start())
        for match in re.finditer(rf"(?<!\w)(?:{pattern})(?!\w)", body)
    ]


# The newest matching messages of the rooms below the cursor, then the excerpts of that page
# alone (ts_headline reparses a body: never for rows the LIMIT drops). The ORDER BY matches no
# index: Postgres reads the GIN index's matches in the rooms and sorts them.
_SEARCH = (
    "WITH hits AS ("
    + SELECT_MESSAGE
    + """
    FROM messages
    WHERE room = ANY($1::text[])
      AND to_tsvector('simple', body) @@ websearch_to_tsquery('simple', $2)
      AND ($3::timestamptz IS NULL OR (created_at, room, seq) < ($3, $4, $5))
    ORDER BY created_at DESC, room DESC, seq DESC
    LIMIT $6
)
SELECT hits.*, ts_headline('simple', body, websearch_to_tsquery('simple', $2), $7) AS headline
FROM hits
ORDER BY created_at DESC, room DESC, seq DESC
"""
)


class MessageSearch:
    def __init__(self, pool: asyncpg.Pool, *, timeout_ms: int) -> None:
        self._pool = pool
        self._timeout_ms = timeout_ms

    async def has_words(self, query: str) -> bool:
        """Whether ``query`` names any word to look for (punctuation alone does not)."""
        nodes = await self._pool.fetchval(
            "SELECT numnode(websearch_to_tsquery('simple', $1))", query
        )
        return bool(nodes)

    async def newest(
        self, rooms: list[str], query: str, before: SearchCursor | None, limit: int
    ) -> list[Hit]:
        """At most ``limit`` messages of ``rooms`` matching ``query``, newest first, all older
        than ``before``."""
        async with self._pool.acquire() as connection, connection.transaction():
            # A common word over many rooms fetches and sorts every match: bounded, so one
            # search never holds a connection for long (docs/benchmarks.md, "Message search").
            await connection.execute(f"SET LOCAL statement_timeout = {int(self._timeout_ms)}")
            try:
                rows = await connection.fetch(
                    _SEARCH,
                    rooms,
                    query,
                    None if before is None else before.created_at,
                    None if before is None else before.room,
                    None if before is None else before.seq,
                    limit,
                    _HEADLINE,
                )
            except asyncpg.QueryCanceledError:
                raise ChatError(
                    ErrorCode.BAD_REQUEST,
                    "too many messages match to search in time: add words or name a room",
                ) from None
        return [
            Hit(
                frame_of_row(row),
                excerpt_of(row["body"], matched_words(row["headline"])),
                SearchCursor(row["created_at"], row["room"], row["seq"]),
            )
            for row in rows
        ]

    async def rooms_of(self, user_id: str, limit: int) -> list[str]:
        """The rooms ``user_id`` belongs to (public ones joined, private ones, DMs), at most
        ``limit``, the most recently active first."""
        rows = await self._pool.fetch(
            "SELECT m.room FROM room_members m JOIN rooms r ON r.id = m.room"
            " WHERE m.user_id = $1 ORDER BY r.last_active_at DESC, r.id DESC LIMIT $2",
            user_id,
            limit,
        )
        return [row["room"] for row in rows]
