"""The room list (GET /v1/rooms): own rooms always, the public directory bounded, most recently
active first, searchable by the start of a name and paged with a cursor; a version-1 client
still reads it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio

from chat_gateway.room_list import name_prefix_pattern
from chat_testing.processes import ServiceProcess
from gateway_harness import ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The strict gateway's bounds (conftest): small, so a test fills them with a few rows.
STRICT_OWN_LISTED = 10
STRICT_PAGE = 20
# The default directory page (settings.py).
DEFAULT_PAGE = 100


class RoomV1(msgspec.Struct):
    """A room as a version-1 client reads it: these fields, anything else ignored."""

    id: str
    name: str
    kind: str
    read_only: bool
    last_seq: int


class RoomListV1(msgspec.Struct):
    rooms: list[RoomV1]


@pytest_asyncio.fixture(loop_scope="session")
async def prefix(database: asyncpg.Connection) -> AsyncIterator[str]:
    """A name prefix of this test's own; its rooms are deleted afterwards."""
    name = f"dir-{uuid.uuid4().hex[:10]}-"
    yield name
    await database.execute("DELETE FROM rooms WHERE id LIKE $1", name_prefix_pattern(name))


async def _public_rooms(
    database: asyncpg.Connection, prefix: str, count: int, newest: datetime, *, per_minute: int
) -> list[str]:
    """``count`` public rooms, ``per_minute`` of them sharing each minute of activity (so pages
    end between rooms of the same moment); returned most recently active first."""
    rows = [(f"{prefix}{n:04d}", newest - timedelta(minutes=n // per_minute)) for n in range(count)]
    await database.executemany(
        "INSERT INTO rooms (id, kind, last_active_at) VALUES ($1, 'public', $2)", rows
    )
    return [room for room, _ in sorted(rows, key=lambda row: (row[1], row[0]), reverse=True)]


async def _list(gateway: ServiceProcess, token: str, **params: Any) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{gateway.env['CHAT_GATEWAY_PORT']}/v1/rooms"
    async with httpx.AsyncClient() as http:
        response = await http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


async def _create(system: ChatSystem, token: str, name: str, kind: str) -> None:
    url = f"{system.http_url(system.gateways[0])}/v1/rooms"
    async with httpx.AsyncClient() as http:
        created = await http.post(
            url, json={"name": name, "kind": kind}, headers={"Authorization": f"Bearer {token}"}
        )
    assert created.status_code == 201, created.text


def _moments(rooms: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(room["last_active_at"]) for room in rooms]


async def test_the_directory_is_one_bounded_page_after_the_callers_own_rooms(
    system: ChatSystem, database: asyncpg.Connection, prefix: str
) -> None:
    # More public rooms than one page, wherever the shared database stands.
    await _public_rooms(database, prefix, DEFAULT_PAGE + 20, datetime.now(UTC), per_minute=1)
    _, token = await system.user("lister")
    await _create(system, token, f"{prefix}mine-open", "public")
    await _create(system, token, f"{prefix}mine-closed", "private")

    status, body = await _list(system.gateways[0], token)

    assert status == 200
    own = [room for room in body["rooms"] if room["member"]]
    directory = [room for room in body["rooms"] if not room["member"]]
    assert body["rooms"] == own + directory
    assert {room["id"] for room in own} == {f"{prefix}mine-open", f"{prefix}mine-closed"}
    assert len(directory) == DEFAULT_PAGE
    assert all(room["kind"] == "public" for room in directory)
    assert _moments(directory) == sorted(_moments(directory), reverse=True)
    assert isinstance(body["next_cursor"], str)
    # A version-1 client reads the same response as before: the fields it knows, nothing less.
    v1 = msgspec.json.decode(msgspec.json.encode(body), type=RoomListV1)
    assert [room.id for room in v1.rooms] == [room["id"] for room in body["rooms"]]


async def test_a_room_that_comes_alive_moves_to_the_top_of_the_directory(
    system: ChatSystem, database: asyncpg.Connection, prefix: str
) -> None:
    room = f"{prefix}sleepy"
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await database.execute(
        "INSERT INTO rooms (id, kind, last_active_at) VALUES ($1, 'public', $2)", room, long_ago
    )
    # A first page full of livelier rooms, whatever else the database holds (a fresh one may
    # hold fewer public rooms than a page, and then the sleepy one would be listed too).
    await _public_rooms(database, f"{prefix}busy-", DEFAULT_PAGE, datetime.now(UTC), per_minute=10)
    _, token = await system.user("waker")
    _, before = await _list(system.gateways[0], token)
    assert room not in {listed["id"] for listed in before["rooms"]}

    client = await system.client(system.gateways[0], token)
    try:
        await client.request("join", room=room)
        await client.request("send", room=room, body="anyone here?", client_msg_id="wake")
    finally:
        await client.close()
    # The persistence worker stores the message and moves the room's activity with it.
    for _ in range(200):
        if (
            await database.fetchval("SELECT last_active_at FROM rooms WHERE id = $1", room)
            > long_ago
        ):
            break
        await asyncio.sleep(0.1)

    # The waker joined it (one of their own rooms now); to anyone else it is a directory room.
    _, other = await system.user("looker")
    for who, member in ((token, True), (other, False)):
        _, after = await _list(system.gateways[1], who)
        listed = {room["id"]: room for room in after["rooms"]}
        assert listed[room]["member"] is member
        assert listed[room]["last_seq"] == 1


async def test_a_name_prefix_finds_public_rooms_page_by_page_most_recently_active_first(
    system: ChatSystem, database: asyncpg.Connection, prefix: str
) -> None:
    expected = await _public_rooms(
        database, prefix, 130, datetime.now(UTC) - timedelta(days=400), per_minute=3
    )
    banned_from, elsewhere = f"{prefix}banned", f"dir-{uuid.uuid4().hex[:10]}"
    user_id, token = await system.user("finder")
    await database.execute(
        "INSERT INTO rooms (id, kind) VALUES ($1, 'public'), ($2, 'public')", banned_from, elsewhere
    )
    await database.execute(
        "INSERT INTO room_bans (room, user_id, banned_by) VALUES ($1, $2, 'admin')",
        banned_from,
        user_id,
    )
    try:
        seen: list[str] = []
        pages = 0
        params: dict[str, Any] = {"query": prefix, "limit": 40}
        while True:
            status, body = await _list(system.gateways[1], token, **params)
            assert status == 200, body
            assert len(body["rooms"]) <= 40
            assert not any(room["member"] for room in body["rooms"])
            seen += [room["id"] for room in body["rooms"]]
            pages += 1
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        assert seen == expected  # each room once, in order, none of the banned one
        assert pages == 4
    finally:
        await database.execute("DELETE FROM rooms WHERE id = $1", elsewhere)


async def test_an_underscore_in_the_query_matches_only_itself(
    system: ChatSystem, database: asyncpg.Connection, prefix: str
) -> None:
    await database.execute(
        "INSERT INTO rooms (id, kind) VALUES ($1, 'public'), ($2, 'public')",
        f"{prefix}a_b",
        f"{prefix}axb",
    )
    _, token = await system.user("finder")
    _, body = await _list(system.gateways[0], token, query=f"{prefix}a_")
    assert [room["id"] for room in body["rooms"]] == [f"{prefix}a_b"]


async def test_own_rooms_and_directory_pages_keep_to_the_gateways_bounds(
    system: ChatSystem, database: asyncpg.Connection, prefix: str
) -> None:
    assert system.strict is not None
    user_id, token = await system.user("member")
    newest = datetime.now(UTC) + timedelta(days=1)
    own = [(f"{prefix}own-{n:02d}", newest - timedelta(minutes=n)) for n in range(15)]
    await database.executemany(
        "INSERT INTO rooms (id, kind, last_active_at) VALUES ($1, 'private', $2)", own
    )
    await database.executemany(
        "INSERT INTO room_members (room, user_id) VALUES ($1, $2)",
        [(room, user_id) for room, _ in own],
    )
    await _public_rooms(database, prefix, STRICT_PAGE + 5, datetime.now(UTC), per_minute=1)

    _, body = await _list(system.strict, token)
    listed_own = [room["id"] for room in body["rooms"] if room["member"]]
    assert listed_own == [room for room, _ in own[:STRICT_OWN_LISTED]]
    assert len(body["rooms"]) == STRICT_OWN_LISTED + STRICT_PAGE

    _, searched = await _list(system.strict, token, query=prefix)
    assert len(searched["rooms"]) == STRICT_PAGE
    assert searched["next_cursor"] is not None


@pytest.mark.parametrize(
    "params",
    [
        {"query": "Not A Name"},
        {"query": "x" * 65},
        {"cursor": "not-one-of-ours"},
        {"limit": "0"},
        {"limit": str(DEFAULT_PAGE + 1)},
        {"limit": "many"},
    ],
)
async def test_a_bad_query_cursor_or_limit_is_refused_with_the_reason(
    system: ChatSystem, params: dict[str, str]
) -> None:
    _, token = await system.user("asker")
    status, body = await _list(system.gateways[0], token, **params)
    assert status == 422
    assert body["code"] == "bad_request"
    assert next(iter(params)) in body["message"]
