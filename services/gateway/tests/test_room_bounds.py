"""Rooms are bounded like everything else (G5): rooms per connection, the pace of joins and
leaves, direct messages only with people who exist, presence events that cannot be sprayed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from gateway_harness import STRICT_ORIGIN, ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


async def _strict(system: ChatSystem, token: str) -> ChatClient:
    assert system.strict is not None
    return await ChatClient.open(system.ws_url(system.strict), token=token, origin=STRICT_ORIGIN)


async def test_a_connection_joins_a_bounded_number_of_rooms(system: ChatSystem) -> None:
    _, token = await system.user("collector")
    client = await _strict(system, token)  # at most 5 rooms per connection there
    try:
        rooms = [_room() for _ in range(6)]
        for room in rooms[:5]:
            await client.request("join", room=room)
        refused = await client.command("join", room=rooms[5])
        assert refused["code"] == "forbidden"
        assert "5 rooms" in refused["message"]
        await client.request("join", room=rooms[0])  # rejoining a joined room is no new room
        await client.request("leave", room=rooms[0])
        await client.request("join", room=rooms[5])
    finally:
        await client.close()


async def test_joining_and_leaving_too_fast_is_rate_limited(system: ChatSystem) -> None:
    _, token = await system.user("hopper")
    client = await _strict(system, token)  # 8 joins and leaves at once, then 1 a second
    try:
        room = _room()
        replies: list[dict[str, Any]] = []
        for _ in range(6):
            replies.append(await client.command("join", room=room))
            replies.append(await client.command("leave", room=room))
        refused = [reply for reply in replies if reply["type"] == "error"]
        assert [reply["type"] for reply in replies[:8]] == ["reply"] * 8
        assert refused
        assert {reply["code"] for reply in refused} == {"rate_limited"}
        assert all(0 < reply["retry_after_ms"] <= 1001 for reply in refused)
        await asyncio.sleep(refused[-1]["retry_after_ms"] / 1000)
        assert (await client.command("join", room=room))["type"] == "reply"
    finally:
        await client.close()


async def test_a_dm_with_someone_who_does_not_exist_is_refused_and_leaves_no_rows(
    system: ChatSystem,
) -> None:
    me, token = await system.user("lonely")
    nobody = str(uuid.uuid4())
    invented = "dm:" + ":".join(sorted((me, nobody)))
    client = await system.client(system.gateways[0], token)
    try:
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("join", {}),
            ("send", {"body": "hello?", "client_msg_id": "d1"}),
            ("history", {}),
        ]
        for kind, fields in attempts:
            refused = await client.command(kind, room=invented, **fields)
            assert refused["code"] == "not_found", (kind, refused)
            assert nobody in refused["message"]
        not_an_id = "dm:" + ":".join(sorted((me, "zz-not-a-user")))
        assert (await client.command("join", room=not_an_id))["code"] == "not_found"
    finally:
        await client.close()
    connection = await asyncpg.connect(system.database_url)
    try:
        rows = await connection.fetchval(
            "SELECT count(*) FROM rooms WHERE id = $1 OR id = $2", invented, not_an_id
        )
        members = await connection.fetchval(
            "SELECT count(*) FROM room_members WHERE room = $1 OR room = $2", invented, not_an_id
        )
    finally:
        await connection.close()
    assert (rows, members) == (0, 0)


async def test_a_dm_with_a_real_person_is_opened_by_the_first_join(system: ChatSystem) -> None:
    (me, token), (friend, _) = await system.user("opener"), await system.user("friend")
    room = "dm:" + ":".join(sorted((me, friend)))
    client = await system.client(system.gateways[1], token)
    try:
        await client.request("join", room=room)
    finally:
        await client.close()
    connection = await asyncpg.connect(system.database_url)
    try:
        members = await connection.fetch(
            "SELECT user_id FROM room_members WHERE room = $1 ORDER BY user_id", room
        )
    finally:
        await connection.close()
    assert [row["user_id"] for row in members] == sorted((me, friend))


async def test_join_leave_cycling_does_not_spray_presence_events(system: ChatSystem) -> None:
    room = _room()
    (_, watcher_token), (cycler_id, cycler_token) = (
        await system.user("watcher"),
        await system.user("cycler"),
    )
    watcher = await system.client(system.gateways[0], watcher_token)
    tabs = [await system.client(system.gateways[i % 2], cycler_token) for i in range(4)]
    try:
        await watcher.request("join", room=room)

        def states() -> list[str]:
            return [
                event["state"]
                for event in watcher.events
                if event["type"] == "presence" and event["user"]["id"] == cycler_id
            ]

        for _ in range(10):  # 4 tabs on two gateways, 80 joins and leaves in all
            await asyncio.gather(*(tab.request("join", room=room) for tab in tabs))
            await asyncio.gather(*(tab.request("leave", room=room) for tab in tabs))
        assert len(states()) <= 2
        # The folded changes end in one announcement of where the user really is.
        await watcher.wait_for(lambda _: states()[-1:] == ["offline"], limit_s=15)
        await asyncio.sleep(1.0)
        assert len(states()) <= 3
        online = await watcher.request("presence", room=room)
        assert cycler_id not in {user["id"] for user in online["online"]}
    finally:
        for client in (watcher, *tabs):
            await client.close()
