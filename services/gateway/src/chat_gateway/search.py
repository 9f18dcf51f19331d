"""Full-text search over the messages of given rooms (``GET /v1/search``), newest first.

Words are matched with Postgres full text in the language-neutral ``simple`` configuration, over
the current text of messages that are not deleted (the partial expression index of migration
0009), the query read by ``websearch_to_tsquery`` (words, "a phrase", ``or``, ``-word``), which
never fails on what a person types. Hits are ordered and paged by ``(created_at, room, seq)``,
unique per message, so a page boundary never skips or repeats one. Only the rooms the caller
names are searched: deciding which they may read is the route's, before it asks.

Two ways to find a page, chosen by which reads fewer rows by the planner's estimate of the
query's matches (docs/benchmarks.md, "Message search"): a rare query asks the index for every
match in the rooms and sorts them; a common one reads the rooms newest first and stops once the
page is known (``search_merge``), as asking the index would fetch hundreds of thousands of rows
to keep twenty. All of one search's statements read one snapshot.

Each hit carries an excerpt as plain text with the offsets of the matched words, never markup:
``ts_headline`` marks which words of the body matched (with two control characters that a
stored body cannot contain, ``chat_common.text``), and ``excerpt_of`` cuts the body itself around
them and says where they are.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.search_merge import HitKey, NewestFirstMerge, RoomWalk, WindowRead
from chat_gateway.settings import GatewaySettings
from chat_gateway.store import STATE_SELECT, state_of
from chat_gateway.targets import render

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
    # The message as history shows it to the searcher (targets.render): never deleted, since a
    # deleted message is not found.
    message: msgspec.Raw
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


# What a hit is, in each statement below: the current text of a message that is not deleted,
#   kind = 'message' AND deleted_at IS NULL
#   AND to_tsvector('simple', COALESCE(edited_body, body)) @@ websearch_to_tsquery('simple', $1)
# written out whole each time (a statement is never assembled from pieces), the same expression
# and predicate as migration 0009's index, so the planner can use it ($1: the query as typed).
#
# The planner's estimate of the matches in the whole table (from the index's statistics, kept
# by ANALYZE): planning only, a millisecond.
MATCHES_ESTIMATE = """
EXPLAIN (FORMAT JSON) SELECT 1 FROM messages
WHERE kind = 'message' AND deleted_at IS NULL
  AND to_tsvector('simple', COALESCE(edited_body, body)) @@ websearch_to_tsquery('simple', $1)
"""
# The rooms' newest times (a room without a row yet: now) and the table's size.
_ROOMS = """
SELECT r.room, COALESCE(rooms.last_active_at, now()) + $2::interval AS newest,
       COALESCE(rooms.last_seq, 0) AS last_seq,
       (SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass) AS total
FROM unnest($1::text[]) AS r (room) LEFT JOIN rooms ON rooms.id = r.room
"""
# Rare queries: every match of the table from the index, those of the rooms kept, sorted. The
# matches are taken first (MATERIALIZED): given the rooms with the words, the planner would
# rather walk a thousand rooms' messages by (room, seq) and parse every one of them. Room ids
# compare by code point (COLLATE "C") in SQL as in the merge's Python, so both plans page alike.
SEARCH_BY_INDEX = """
WITH matches AS MATERIALIZED (
    SELECT created_at, room, seq FROM messages
    WHERE kind = 'message' AND deleted_at IS NULL
      AND to_tsvector('simple', COALESCE(edited_body, body)) @@ websearch_to_tsquery('simple', $1)
)
SELECT created_at, room, seq FROM matches
WHERE room = ANY($2::text[])
  AND ($3::timestamptz IS NULL OR (created_at, room COLLATE "C", seq) < ($3, $4, $5))
ORDER BY created_at DESC, room COLLATE "C" DESC, seq DESC
LIMIT $6
"""
# Common queries: one window of each room, newest first through the (room, seq) key, and which
# of its messages match (the text parsed per message read, never for the whole room). Parsing a
# message costs about 20 µs; a text without a word every hit has (lower-cased, as the `simple`
# configuration lower-cases its words; $5, `words_every_hit_has`) cannot match and is passed over
# by a substring test first, an AND evaluated in the order written, so most of what the merge
# reads for a common pair of words is never parsed.
_WINDOWS = """
SELECT p.room, count(*) AS read, min(w.seq) AS oldest_seq, min(w.created_at) AS oldest_at,
       array_agg(w.created_at) FILTER (WHERE w.hit) AS hit_ats,
       array_agg(w.seq) FILTER (WHERE w.hit) AS hit_seqs
FROM unnest($2::text[], $3::bigint[], $4::int[]) AS p (room, below, size)
CROSS JOIN LATERAL (
    SELECT seq, created_at,
           (kind = 'message' AND deleted_at IS NULL
            AND lower(COALESCE(edited_body, body)) LIKE ALL ($5::text[])
            AND to_tsvector('simple', COALESCE(edited_body, body))
                @@ websearch_to_tsquery('simple', $1)) AS hit
    FROM messages
    WHERE room = p.room AND seq < p.below
    ORDER BY seq DESC
    LIMIT p.size
) w
GROUP BY p.room
"""
# The page's messages in current state, as history reads them, and the excerpt's marks from the
# current text (ts_headline reparses a body: only for the page).
_PAGE = (
    STATE_SELECT
    + """,
       ts_headline('simple', COALESCE(m.edited_body, m.body), websearch_to_tsquery('simple', $1),
                   $4) AS headline
FROM unnest($2::text[], $3::bigint[]) AS k (room, seq)
JOIN messages m ON m.room = k.room AND m.seq = k.seq
ORDER BY m.created_at DESC, m.room COLLATE "C" DESC, m.seq DESC
"""
)


# A lexeme in a tsquery's text: quoted, a quote and a backslash in it doubled, perhaps a prefix
# or weight mark after it.
_LEXEME = re.compile(r"'((?:[^'\\]|''|\\.)*)'(?::[*A-D]+)?")


def words_every_hit_has(tsquery: str) -> list[str]:
    """Words every message matching ``tsquery`` (its text, as Postgres prints it) holds: the
    lexemes of a query of words and phrases joined by AND, those not negated. None where an OR
    or a group is in it (parentheses appear only round an OR or a negated phrase): each side of
    an OR needs words of its own, and the search then parses every message it reads."""
    skeleton = _LEXEME.sub("w", tsquery)
    if "|" in skeleton or "(" in skeleton:
        return []
    return [
        re.sub(r"''|\\\\", lambda pair: pair.group()[0], lexeme.group(1))
        for lexeme in _LEXEME.finditer(tsquery)
        if not tsquery[: lexeme.start()].rstrip().endswith("!")
    ]


def like_containing(word: str) -> str:
    """A LIKE pattern for a text that contains ``word`` (its wildcards and the escape taken
    literally)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"


class SearchPlan(enum.Enum):
    # Every match in the rooms from the index, sorted: for rare words.
    INDEX = "index"
    # The rooms read newest first until the page is known (search_merge): for common words.
    MERGE = "merge"


def merge_reads(limit: int, *, matches: float, total: float, in_rooms: float) -> float:
    """The messages the merge is expected to read for a page of ``limit`` hits: at the query's
    density in the table (the planner's estimate of its ``matches`` among ``total`` messages),
    about ``limit / density``, or the rooms' ``in_rooms`` messages, whichever is fewer."""
    density = max(matches, 1.0) / max(total, 1.0)
    return min(limit / density, in_rooms)


def plan_for(
    limit: int, *, matches: float, total: float, in_rooms: float, merge_rows: int
) -> SearchPlan:
    """The merge when it surely reads few rows, else the index.

    The index fetches every match of the table; the merge reads ``merge_reads``. The merge is
    chosen when it reads fewer rows than that and at most ``merge_rows``: a word the statistics
    do not list is estimated at half the rarest listed word's count while it is often far
    rarer, or found nowhere, which the index finds in milliseconds, and reading a thousand
    rooms for it would read them to their start.
    """
    reads = merge_reads(limit, matches=matches, total=total, in_rooms=in_rooms)
    cheap = reads <= merge_rows and reads < max(matches, 1.0)
    return SearchPlan.MERGE if cheap else SearchPlan.INDEX


def reads_rooms_whole(limit: int, *, matches: float, total: float, in_rooms: float) -> bool:
    """Whether the merge is expected to read the rooms to their start (fewer than a page of
    hits in them): it then reads each in one window of the largest size, one statement per
    ``rooms_per_round`` rooms, instead of doubling its windows round after round (a statement
    per size, six for rooms of 200 messages, where one does)."""
    return merge_reads(limit, matches=matches, total=total, in_rooms=in_rooms) >= in_rooms


@dataclass(frozen=True)
class SearchLimits:
    """How a search reads (GatewaySettings, search_*)."""

    timeout_ms: int
    activity_slack_s: float
    first_window: int
    max_window: int
    rooms_per_round: int
    merge_rows_expected: int
    merge_rows_max: int
    index_try_ms: int

    @classmethod
    def of(cls, settings: GatewaySettings) -> SearchLimits:
        return cls(
            timeout_ms=settings.search_timeout_ms,
            activity_slack_s=settings.search_activity_slack_s,
            first_window=settings.search_first_window,
            max_window=settings.search_max_window,
            rooms_per_round=settings.search_rooms_per_round,
            merge_rows_expected=settings.search_merge_rows_expected,
            merge_rows_max=settings.search_merge_rows_max,
            index_try_ms=settings.search_index_try_ms,
        )


class MessageSearch:
    def __init__(self, pool: asyncpg.Pool, limits: SearchLimits) -> None:
        self._pool = pool
        self._limits = limits

    async def has_words(self, query: str) -> bool:
        """Whether ``query`` names any word to look for (punctuation alone does not)."""
        nodes = await self._pool.fetchval(
            "SELECT numnode(websearch_to_tsquery('simple', $1))", query
        )
        return bool(nodes)

    async def newest(
        self,
        rooms: list[str],
        query: str,
        before: SearchCursor | None,
        limit: int,
        plan: SearchPlan | None = None,
        *,
        viewer: str,
    ) -> list[Hit]:
        """At most ``limit`` messages of ``rooms`` matching ``query``, newest first, all older
        than ``before``, as ``viewer`` sees them (``me`` in reactions); ``plan`` chosen by
        ``plan_for`` unless given (the benchmark compares them)."""
        async with (
            self._pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            # Bounded, so one search never holds a connection for long; planned for the query's
            # own words (a generic plan would estimate every query alike).
            await connection.execute(
                _timeout(self._limits.timeout_ms)
                + "; SET LOCAL plan_cache_mode = force_custom_plan"
            )
            try:
                keys = await self._newest_keys(connection, rooms, query, before, limit, plan)
                rows = await connection.fetch(
                    _PAGE, query, [key[1] for key in keys], [key[2] for key in keys], _HEADLINE
                )
            except asyncpg.QueryCanceledError:
                raise _too_long() from None
        return [_hit(row, viewer) for row in rows]

    async def _newest_keys(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        rooms: list[str],
        query: str,
        before: SearchCursor | None,
        limit: int,
        plan: SearchPlan | None,
    ) -> list[HitKey]:
        limits = self._limits
        found = await connection.fetch(_ROOMS, rooms, timedelta(seconds=limits.activity_slack_s))
        cursor = None if before is None else (before.created_at, before.room, before.seq)
        newest = [(row["room"], row["newest"]) for row in found]
        whole = False
        if plan is None:
            plan, whole = await self._chosen(connection, found, query, limit)
        elif plan is SearchPlan.INDEX:
            return await _from_index(connection, query, rooms, cursor, limit)
        if plan is SearchPlan.MERGE:
            merged = await self._merged(connection, query, newest, cursor, limit, whole=whole)
            if merged is not None:
                return merged
            # More rows read than the estimate foresaw (the words are common elsewhere, rare in
            # these rooms): the index answers instead.
            return await _from_index(connection, query, rooms, cursor, limit)
        # A word the estimate cannot call common: most such are rare, and the index answers in
        # milliseconds; one common enough to fetch thousands of matches is given up after a
        # short try (its savepoint undone), and the rooms are read newest first instead.
        try:
            async with connection.transaction():
                await connection.execute(_timeout(limits.index_try_ms))
                keys = await _from_index(connection, query, rooms, cursor, limit)
            await connection.execute(_timeout(limits.timeout_ms))  # kept past the savepoint
            return keys
        except asyncpg.QueryCanceledError:
            pass  # the savepoint's rollback put the search's own timeout back
        merged = await self._merged(connection, query, newest, cursor, limit)
        if merged is not None:
            return merged
        return await _from_index(connection, query, rooms, cursor, limit)

    async def _merged(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        query: str,
        newest: list[tuple[str, datetime]],
        cursor: HitKey | None,
        limit: int,
        *,
        whole: bool = False,
    ) -> list[HitKey] | None:
        """The newest hits by reading rooms newest first (``whole``: each in windows of the
        largest size from the start); None past ``merge_rows_max`` rows read. Bounded by the
        search's time as a whole, not only per statement."""
        limits = self._limits
        merge = NewestFirstMerge(
            newest,
            limit,
            cursor,
            first_window=limits.max_window if whole else limits.first_window,
            max_window=limits.max_window,
            rooms_per_round=limits.rooms_per_round,
        )
        deadline = time.monotonic() + limits.timeout_ms / 1000
        tsquery = await connection.fetchval(
            "SELECT websearch_to_tsquery('simple', $1)::text", query
        )
        needed = [like_containing(word) for word in words_every_hit_has(tsquery)]
        while merge.rows_read < limits.merge_rows_max:
            if time.monotonic() > deadline:
                raise _too_long()
            walks = merge.next_round()
            if not walks:
                return merge.hits()
            merge.record(walks, await self._read_windows(connection, query, needed, walks))
        return None

    async def _chosen(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        rooms: list[asyncpg.Record],
        query: str,
        limit: int,
    ) -> tuple[SearchPlan, bool]:
        """The plan, and for the merge whether it reads the rooms whole (``reads_rooms_whole``;
        never for the index's fallback, whose rooms may hold far more than the merge's bound)."""
        estimate = json.loads(await connection.fetchval(MATCHES_ESTIMATE, query))
        matches = float(estimate[0]["Plan"]["Plan Rows"])
        total = float(rooms[0]["total"]) if rooms else 0.0
        in_rooms = float(sum(row["last_seq"] for row in rooms))
        plan = plan_for(
            limit,
            matches=matches,
            total=total,
            in_rooms=in_rooms,
            merge_rows=self._limits.merge_rows_expected,
        )
        whole = plan is SearchPlan.MERGE and reads_rooms_whole(
            limit, matches=matches, total=total, in_rooms=in_rooms
        )
        return plan, whole

    async def _read_windows(
        self,
        connection: PoolConnectionProxy[asyncpg.Record],
        query: str,
        needed: list[str],
        walks: list[RoomWalk],
    ) -> list[WindowRead]:
        rows = await connection.fetch(
            _WINDOWS,
            query,
            [walk.room for walk in walks],
            [walk.below for walk in walks],
            [walk.window for walk in walks],
            needed,
        )
        return [
            WindowRead(
                row["room"],
                row["read"],
                row["oldest_seq"],
                row["oldest_at"],
                list(zip(row["hit_ats"] or [], row["hit_seqs"] or [], strict=True)),
            )
            for row in rows
        ]

    async def chosen_plan(self, rooms: list[str], query: str, limit: int) -> SearchPlan:
        """The plan ``newest`` chooses for these rooms and query."""
        async with self._pool.acquire() as connection:
            found = await connection.fetch(_ROOMS, rooms, timedelta(0))
            return (await self._chosen(connection, found, query, limit))[0]

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


def _too_long() -> ChatError:
    return ChatError(
        ErrorCode.BAD_REQUEST,
        "too many messages match to search in time: add words or name a room",
    )


def _timeout(ms: int) -> str:
    return f"SET LOCAL statement_timeout = {int(ms)}"


async def _from_index(
    connection: PoolConnectionProxy[asyncpg.Record],
    query: str,
    rooms: list[str],
    cursor: HitKey | None,
    limit: int,
) -> list[HitKey]:
    rows = await connection.fetch(
        SEARCH_BY_INDEX,
        query,
        rooms,
        None if cursor is None else cursor[0],
        None if cursor is None else cursor[1],
        None if cursor is None else cursor[2],
        limit,
    )
    return [(row["created_at"], row["room"], row["seq"]) for row in rows]


def _hit(row: asyncpg.Record, viewer: str) -> Hit:
    state = state_of(row)
    body = state.body
    assert body is not None  # a deleted message is never found
    message = msgspec.Raw(render(state, viewer))
    return Hit(
        message,
        excerpt_of(body, matched_words(row["headline"])),
        SearchCursor(row["created_at"], row["room"], row["seq"]),
    )
