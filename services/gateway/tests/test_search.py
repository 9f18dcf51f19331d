"""Message search (GET /v1/search) against the real gateways, Postgres and Redis: only rooms the
caller may read are searched, newest first, a page at a time, with a plain-text excerpt."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from chat_common.errors import ChatError
from chat_gateway.search import MessageSearch, SearchLimits, SearchPlan
from chat_gateway.settings import GatewaySettings
from gateway_harness import ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The gateways' defaults (settings.py): a page of hits, its largest, the longest query.
SEARCH_PAGE, SEARCH_MAX, QUERY_MAX = 20, 50, 200
_T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LIMITS = SearchLimits.of(GatewaySettings())
# Who searches, where a test calls the search itself (``me`` in the hits' reactions).
SEARCHER = "searcher"


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def _word() -> str:
    """A word no other test's message holds, so a search finds this test's messages alone."""
    return f"zq{uuid.uuid4().hex[:10]}"


class Messages:
    """Messages written straight to the table the persistence worker fills, each at a known
    time: search reads Postgres alone, and the order of hits is then known exactly."""

    def __init__(self, database: asyncpg.Connection) -> None:
        self._database = database
        self._rooms: set[str] = set()
        self._reactions: set[uuid.UUID] = set()

    async def write(
        self,
        room: str,
        seq: int,
        body: str | None,
        *,
        minute: int = 0,
        kind: str = "message",
        edited_body: str | None = None,
        deleted: bool = False,
        reply_to: dict[str, Any] | None = None,
        updated_seq: int | None = None,
        message_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """A row as the persistence worker leaves it: a message in its current state (an edit
        in ``edited_body``/``edited_at``, a delete in ``deleted_at``) or an event row."""
        self._rooms.add(room)
        message_id = message_id or uuid.uuid4()
        at = _T0 + timedelta(minutes=minute)
        await self._database.execute(
            "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
            " created_at, kind, edited_body, edited_at, deleted_at, deleted_by, reply_to,"
            " updated_seq) VALUES ($1, $2, $3, 'someone', 'someone', $4, $5, $6, $7, $8,"
            " $9, $10, $11, $12, $13)",
            message_id,
            room,
            seq,
            body,
            uuid.uuid4().hex,
            at,
            kind,
            edited_body,
            None if edited_body is None else at + timedelta(seconds=30),
            at + timedelta(seconds=40) if deleted else None,
            "someone" if deleted else None,
            None if reply_to is None else json.dumps(reply_to),
            updated_seq,
        )
        return message_id

    async def react(self, message_id: uuid.UUID, emoji: str, user_id: str, seq: int) -> None:
        """A reaction held, as the persistence worker records it."""
        self._reactions.add(message_id)
        await self._database.execute(
            "INSERT INTO message_reactions (message_id, emoji, user_id, reaction_on, seq)"
            " VALUES ($1, $2, $3, true, $4)",
            message_id,
            emoji,
            user_id,
            seq,
        )

    async def remove(self) -> None:
        await self._database.execute("DELETE FROM messages WHERE room = ANY($1)", list(self._rooms))
        await self._database.execute(
            "DELETE FROM message_reactions WHERE message_id = ANY($1)", list(self._reactions)
        )


@pytest_asyncio.fixture(loop_scope="session")
async def messages(database: asyncpg.Connection) -> AsyncIterator[Messages]:
    written = Messages(database)
    try:
        yield written
    finally:
        await written.remove()


async def _create(system: ChatSystem, token: str, room: str, kind: str = "public") -> None:
    created = await system.http("POST", "/v1/rooms", token, {"name": room, "kind": kind})
    assert created.status_code == 201, created.text


async def _search(system: ChatSystem, token: str, **params: Any) -> dict[str, Any]:
    found = await system.http("GET", "/v1/search", token, params=params)
    assert found.status_code == 200, found.text
    result: dict[str, Any] = found.json()
    return result


def _bodies(result: dict[str, Any]) -> list[str]:
    return [hit["message"]["body"] for hit in result["hits"]]


async def test_search_finds_words_in_the_callers_rooms_only_newest_first(
    system: ChatSystem, messages: Messages
) -> None:
    me, _, token = await system.person("seeker")
    other, _, other_token = await system.person("other")
    third, _, _ = await system.person("third")
    word = _word()
    mine_public, mine_private, theirs_private, unjoined = _room(), _room(), _room(), _room()
    await _create(system, token, mine_public)
    await _create(system, token, mine_private, "private")
    await _create(system, other_token, theirs_private, "private")
    await _create(system, other_token, unjoined)
    my_dm = "dm:" + ":".join(sorted((me, other)))
    their_dm = "dm:" + ":".join(sorted((other, third)))
    for dm in (my_dm, their_dm):
        started = await system.http("PUT", f"/v1/me/rooms/{dm}", other_token)
        assert started.status_code in (200, 201), started.text

    await messages.write(mine_public, 1, f"first {word} in public", minute=1)
    await messages.write(mine_private, 1, f"the {word.upper()} in private", minute=2)
    await messages.write(my_dm, 1, f"a {word} between us", minute=3)
    await messages.write(theirs_private, 1, f"{word} of others, private", minute=4)
    await messages.write(their_dm, 1, f"{word} of others, a DM", minute=5)
    await messages.write(unjoined, 1, f"{word} in a public room not joined", minute=6)
    await messages.write(mine_public, 2, "nothing to find here", minute=7)

    found = await _search(system, token, q=word)
    assert _bodies(found) == [
        f"a {word} between us",
        f"the {word.upper()} in private",
        f"first {word} in public",
    ]
    assert found["next_cursor"] is None
    first = found["hits"][0]["message"]
    assert (first["room"], first["seq"], first["user"]) == (
        my_dm,
        1,
        {"id": "someone", "name": "someone"},
    )
    assert first["ts"] == "2026-11-30T12:03:00.000Z"

    # The others see their own rooms' messages, never the seeker's private ones.
    theirs = await _search(system, other_token, q=word)
    assert {hit["message"]["room"] for hit in theirs["hits"]} == {
        my_dm,
        their_dm,
        theirs_private,
        unjoined,
    }


async def test_a_room_is_searched_after_the_read_check_history_makes(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    other, _, other_token = await system.person("other")
    third, _, _ = await system.person("third")
    word = _word()
    public, private = _room(), _room()
    await _create(system, other_token, public)
    await _create(system, other_token, private, "private")
    their_dm = "dm:" + ":".join(sorted((other, third)))
    await messages.write(public, 1, f"{word} said in public", minute=1)
    await messages.write(private, 1, f"{word} said in private", minute=2)
    await messages.write(their_dm, 1, f"{word} said in a DM", minute=3)

    # A public room may be searched before joining it, as its history may be read.
    found = await _search(system, token, q=word, room=public)
    assert _bodies(found) == [f"{word} said in public"]

    for room in (private, their_dm):
        refused = await system.http("GET", "/v1/search", token, params={"q": word, "room": room})
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
    missing = await system.http("GET", "/v1/search", token, params={"q": word, "room": _room()})
    assert missing.status_code == 404


async def test_pages_follow_the_cursor_without_skipping_or_repeating(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    word = _word()
    first_room, second_room = _room(), _room()
    await _create(system, token, first_room)
    await _create(system, token, second_room)
    # Two messages at each minute, one per room: the order within a minute is by room, then seq.
    for minute in range(30):
        for room in (first_room, second_room):
            body = f"{word} number {minute} in {room}"
            await messages.write(room, minute + 1, body, minute=minute)
    expected = [
        f"{word} number {minute} in {room}"
        for minute in reversed(range(30))
        for room in sorted((first_room, second_room), reverse=True)
    ]

    seen: list[str] = []
    page = await _search(system, token, q=word)
    assert len(page["hits"]) == SEARCH_PAGE
    while True:
        seen += _bodies(page)
        if page["next_cursor"] is None:
            break
        page = await _search(system, token, q=word, before=page["next_cursor"], limit=15)
    assert seen == expected

    most = await _search(system, token, q=word, limit=SEARCH_MAX)
    assert _bodies(most) == expected[:SEARCH_MAX]
    assert most["next_cursor"] is not None
    in_one_room = await _search(system, token, q=word, room=first_room, limit=SEARCH_MAX)
    assert _bodies(in_one_room) == [body for body in expected if body.endswith(first_room)]
    assert in_one_room["next_cursor"] is None


async def test_queries_are_read_as_a_search_box_reads_them(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    word, other = _word(), _word()
    room = _room()
    await _create(system, token, room)
    await messages.write(room, 1, f"{word} apples and pears", minute=1)
    await messages.write(room, 2, f"{word} pears and apples", minute=2)
    await messages.write(room, 3, f"{word} apples only", minute=3)
    await messages.write(room, 4, f"{other} pears only", minute=4)

    phrase = await _search(system, token, q=f'{word} "apples and pears"')
    assert _bodies(phrase) == [f"{word} apples and pears"]
    both = await _search(system, token, q=f"{word} pears -only")
    assert _bodies(both) == [f"{word} pears and apples", f"{word} apples and pears"]
    either = await _search(system, token, q=f"{word} or {other}")
    assert len(either["hits"]) == 4
    # Unbalanced quotes and operators are read as words, never an error: an open quote runs
    # to the end as a phrase.
    odd = await _search(system, token, q=f'"{word} & | ! ( apples')
    assert _bodies(odd) == [f"{word} apples only", f"{word} apples and pears"]


async def test_a_message_with_markup_comes_back_as_text_with_match_offsets(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    word = _word()
    room = _room()
    await _create(system, token, room)
    body = f'<b onclick="x()">{word}</b> & <script>alert(1)</script> **{word}**'
    await messages.write(room, 1, body, minute=1)

    hit = (await _search(system, token, q=word))["hits"][0]
    assert hit["message"]["body"] == body
    excerpt = hit["excerpt"]
    assert excerpt["text"] == body
    assert [excerpt["text"][start : start + size] for start, size in excerpt["matches"]] == [
        word,
        word,
    ]


async def test_a_long_message_gets_an_excerpt_around_its_match(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    word = _word()
    room = _room()
    await _create(system, token, room)
    before = " ".join(f"before{n}" for n in range(200))
    after = " ".join(f"after{n}" for n in range(200))
    await messages.write(room, 1, f"{before} <i>{word}</i> {after}", minute=1)

    excerpt = (await _search(system, token, q=word))["hits"][0]["excerpt"]
    assert len(excerpt["text"]) <= 242
    assert f"<i>{word}</i>" in excerpt["text"]
    [(start, size)] = excerpt["matches"]
    assert excerpt["text"][start : start + size] == word


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "q is empty"),
        ({"q": "   "}, "q is empty"),
        ({"q": "x" * (QUERY_MAX + 1)}, f"at most {QUERY_MAX} characters"),
        ({"q": "?! -- ..."}, "no words"),
        ({"q": "hello", "limit": 0}, "limit"),
        ({"q": "hello", "limit": SEARCH_MAX + 1}, f"at most {SEARCH_MAX}"),
        ({"q": "hello", "limit": "many"}, "limit"),
        ({"q": "hello", "room": "Not A Room"}, "room"),
        ({"q": "hello", "before": "not-a-cursor"}, "cursor"),
        ({"q": "hello", "before": ""}, "before"),
    ],
)
async def test_a_bad_search_is_refused_with_the_reason(
    system: ChatSystem, params: dict[str, Any], reason: str
) -> None:
    _, _, token = await system.person("seeker")
    refused = await system.http("GET", "/v1/search", token, params=params)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "bad_request"
    assert reason in refused.json()["message"]


async def test_search_is_for_signed_in_people_only(system: ChatSystem) -> None:
    anonymous = await system.http("GET", "/v1/search", None, params={"q": "hello"})
    assert anonymous.status_code == 401


async def test_a_search_that_runs_too_long_is_refused_asking_for_more_words(
    system: ChatSystem, database: asyncpg.Connection
) -> None:
    room, word = _room(), _word()
    await database.execute(
        "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
        " created_at) SELECT gen_random_uuid(), $1, n, 'someone', 'someone', $2 || ' ' || n,"
        " n::text, now() FROM generate_series(1, 20000) n",
        room,
        word,
    )
    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    quick = dataclasses.replace(LIMITS, timeout_ms=1)
    try:
        for plan in SearchPlan:
            with pytest.raises(ChatError, match="add words or name a room"):
                await MessageSearch(pool, quick).newest(
                    [room], word, None, 20, plan, viewer=SEARCHER
                )
        found = await MessageSearch(pool, LIMITS).newest([room], word, None, 20, viewer=SEARCHER)
        assert len(found) == 20
    finally:
        await pool.close()
        await database.execute("DELETE FROM messages WHERE room = $1", room)


async def test_the_current_text_is_searched_never_old_words_deleted_messages_or_events(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    old, new = _word(), _word()
    room = _room()
    await _create(system, token, room)
    await messages.write(room, 1, f"{old} as first sent", minute=1, edited_body=f"{new} now")
    await messages.write(room, 2, f"{old} {new} said and deleted", minute=2, deleted=True)
    await messages.write(room, 3, None, minute=3, deleted=True)  # erased, as a delete leaves it
    await messages.write(room, 4, f"{new} now", minute=4, kind="edit", updated_seq=None)
    await messages.write(room, 5, f"{old} never edited", minute=5)

    found = await _search(system, token, q=new)
    [hit] = found["hits"]
    assert hit["message"]["body"] == f"{new} now"
    assert (hit["message"]["seq"], hit["message"]["edited_at"]) == (
        1,
        "2026-11-30T12:01:30.000Z",
    )
    assert "deleted" not in hit["message"]
    assert hit["excerpt"] == {"text": f"{new} now", "matches": [[0, len(new)]]}
    assert _bodies(await _search(system, token, q=old)) == [f"{old} never edited"]


async def test_a_hit_that_answers_a_message_carries_reply_to_as_history_does(
    system: ChatSystem, messages: Messages
) -> None:
    _, _, token = await system.person("seeker")
    word = _word()
    room = _room()
    await _create(system, token, room)
    kept = await messages.write(room, 1, "the question", minute=1)
    gone = await messages.write(room, 2, None, minute=2, deleted=True)
    author = {"id": "someone", "name": "someone"}
    await messages.write(
        room,
        3,
        f"{word} answers the question",
        minute=3,
        reply_to={"id": str(kept), "user": author, "excerpt": "the question"},
        updated_seq=7,
    )
    await messages.write(
        room,
        4,
        f"{word} answers what is gone",
        minute=4,
        reply_to={"id": str(gone), "user": author, "excerpt": "a secret"},
    )

    later, earlier = (hit["message"] for hit in (await _search(system, token, q=word))["hits"])
    assert later["reply_to"] == {"id": str(gone), "user": author, "deleted": True}
    assert "updated_seq" not in later
    assert earlier["reply_to"] == {"id": str(kept), "user": author, "excerpt": "the question"}
    assert earlier["updated_seq"] == 7
    assert "edited_at" not in earlier


async def test_a_hit_carries_the_reactions_history_shows_with_me_for_the_searcher(
    system: ChatSystem, messages: Messages
) -> None:
    me, _, token = await system.person("seeker")
    word = _word()
    room = _room()
    await _create(system, token, room)
    liked = await messages.write(room, 1, f"{word} liked", minute=1, updated_seq=4)
    await messages.react(liked, "👍", "someone", 2)
    await messages.react(liked, "🎉", me, 3)
    await messages.react(liked, "👍", me, 4)

    (hit,) = (await _search(system, token, q=word))["hits"]
    assert hit["message"]["reactions"] == [
        {"emoji": "👍", "count": 2, "me": True},
        {"emoji": "🎉", "count": 1, "me": True},
    ]
    history = await system.http("GET", f"/v1/rooms/{room}/messages", token)
    assert history.status_code == 200
    assert history.json()["messages"] == [hit["message"]]


async def _rooms_with_a_word(
    system: ChatSystem, messages: Messages, word: str, rooms: int, per_room: int
) -> list[str]:
    """Rooms whose messages alternate between having ``word`` and not, interleaved in time
    across the rooms (the newest matches lie in every room), room by room."""
    _, _, token = await system.person("owner")
    names = [_room() for _ in range(rooms)]
    for number, room in enumerate(names):
        await _create(system, token, room)
        for seq in range(1, per_room + 1):
            text = f"{word} {seq} in {room}" if seq % 2 else f"other {seq} in {room}"
            await messages.write(room, seq, text, minute=seq * rooms + number)
    return names


@pytest.mark.parametrize("plan", [*SearchPlan, None])
async def test_both_plans_page_through_the_same_hits_newest_first(
    system: ChatSystem, messages: Messages, plan: SearchPlan | None
) -> None:
    word = _word()
    rooms = await _rooms_with_a_word(system, messages, word, rooms=7, per_room=40)
    # The rooms' own order: the merge reads them by activity, the index ignores it.
    rooms.reverse()
    expected = sorted(
        (
            (_T0 + timedelta(minutes=seq * 7 + number), room, seq)
            for number, room in enumerate(reversed(rooms))
            for seq in range(1, 41, 2)
        ),
        reverse=True,
    )
    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    try:
        search = MessageSearch(pool, LIMITS)
        seen: list[tuple[datetime, str, int]] = []
        before = None
        while True:
            page = await search.newest(rooms, word, before, 9, plan, viewer=SEARCHER)
            seen += [(hit.cursor.created_at, hit.cursor.room, hit.cursor.seq) for hit in page]
            if len(page) < 9:
                break
            before = page[-1].cursor
        assert seen == expected
        # One room alone, and a word found nowhere.
        alone = await search.newest(rooms[:1], word, None, 50, plan, viewer=SEARCHER)
        assert [hit.cursor.room for hit in alone] == [rooms[0]] * 20
        assert await search.newest(rooms, _word(), None, 20, plan, viewer=SEARCHER) == []
    finally:
        await pool.close()


async def test_a_rare_word_in_rooms_full_of_messages_is_found_by_the_index_in_the_end(
    system: ChatSystem, messages: Messages
) -> None:
    word, rare = _word(), _word()
    rooms = await _rooms_with_a_word(system, messages, word, rooms=3, per_room=30)
    await messages.write(rooms[1], 31, f"the {rare} one", minute=0)
    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    try:
        # The newest-first reading gives up after a few rows: the index answers.
        tight = dataclasses.replace(LIMITS, merge_rows_max=10, first_window=2)
        found = await MessageSearch(pool, tight).newest(
            rooms, rare, None, 20, SearchPlan.MERGE, viewer=SEARCHER
        )
        assert [msgspec.json.decode(hit.message)["body"] for hit in found] == [f"the {rare} one"]
    finally:
        await pool.close()


# Texts that hold the words of a query in every way the merge's substring test could misjudge:
# other cases and scripts, words inside other words, LIKE's wildcards, an edit that added or
# took the words out. Each is the only message of its kind in the test's rooms.
_TRICKY_TEXTS = [
    "Cache on MONDAY",
    "monday: the cache",
    "the cache alone",
    "caches on mondays",
    "cache-monday",
    "ÜBER die Straße",
    "über STRASSE",
    "ΣΟΦΟΣ cache",
    "100%_done cache",
    "100x done cache",
    "back\\slash cache",
    "it's the cache's monday",
]


@pytest.mark.parametrize(
    "query",
    [
        "cache monday",
        "CACHE Monday",
        '"cache monday"',
        '"monday the cache"',
        "cache -monday",
        "cache or straße",
        "ÜBER straße",
        "σοφοσ CACHE",
        "100%_done",
        "back\\slash",
        "it's",
        "cache's",
        "-cache",
    ],
)
async def test_every_plan_finds_the_same_messages_for_words_in_any_case_or_script(
    system: ChatSystem, messages: Messages, query: str
) -> None:
    rooms = [_room(), _room()]
    texts = [*_TRICKY_TEXTS, "a plain line"]
    for number, text in enumerate(texts):
        await messages.write(rooms[number % 2], number // 2 + 1, text, minute=number)
    # The current text decides: an edit that added the words, and one that took them out.
    seq = len(texts) + 1  # above every seq of either room
    await messages.write(rooms[0], seq, "before", edited_body="now CACHE Monday", minute=40)
    await messages.write(rooms[1], seq, "Cache Monday", edited_body="now neither", minute=41)
    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    try:
        search = MessageSearch(pool, LIMITS)
        # The database's own answer, every message of the rooms parsed.
        expected = await pool.fetch(
            "SELECT room, seq FROM messages WHERE room = ANY($1::text[])"
            " AND to_tsvector('simple', COALESCE(edited_body, body))"
            " @@ websearch_to_tsquery('simple', $2)"
            ' ORDER BY created_at DESC, room COLLATE "C" DESC, seq DESC',
            rooms,
            query,
        )
        assert expected, "each query finds a message"
        for plan in [*SearchPlan, None]:
            found = await search.newest(rooms, query, None, 50, plan, viewer=SEARCHER)
            assert [(hit.cursor.room, hit.cursor.seq) for hit in found] == [
                (row["room"], row["seq"]) for row in expected
            ], plan
    finally:
        await pool.close()


async def test_a_pair_of_words_finds_the_messages_with_both_as_words(
    system: ChatSystem, messages: Messages
) -> None:
    rooms = [_room(), _room()]
    for number, text in enumerate(_TRICKY_TEXTS):
        await messages.write(rooms[number % 2], number // 2 + 1, text, minute=number)
    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    try:
        found = await MessageSearch(pool, LIMITS).newest(
            rooms, "cache monday", None, 50, SearchPlan.MERGE, viewer=SEARCHER
        )
        assert [msgspec.json.decode(hit.message)["body"] for hit in found] == [
            "it's the cache's monday",
            "cache-monday",
            "monday: the cache",
            "Cache on MONDAY",
        ]
    finally:
        await pool.close()
