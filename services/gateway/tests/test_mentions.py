"""Mentions through the real gateways, Kafka, the persistence worker and Postgres: ``@username``
of a room member becomes a user id in the message, live and in history, stored in
``messages.mentions``; anyone else named, and a message naming nobody, adds nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from gateway_harness import ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The worker stores what the gateways made durable within this long, on a shared machine.
STORED_WITHIN_S = 30.0


async def _room(system: ChatSystem, owner_token: str, kind: str, *members: str) -> str:
    room = f"room-{uuid.uuid4().hex[:12]}"
    created = await system.http("POST", "/v1/rooms", owner_token, {"name": room, "kind": kind})
    assert created.status_code == 201, created.text
    for user_id in members:
        added = await system.http(
            "POST", f"/v1/rooms/{room}/members", owner_token, {"user_id": user_id}
        )
        assert added.status_code == 201, added.text
    return room


async def _stored_mentions(
    database: asyncpg.Connection, room: str, count: int
) -> list[list[str] | None]:
    """``messages.mentions`` of the room's first ``count`` messages, once the worker has them."""
    async with asyncio.timeout(STORED_WITHIN_S):
        while True:
            rows = await database.fetch(
                "SELECT mentions FROM messages WHERE room = $1 ORDER BY seq", room
            )
            if len(rows) >= count:
                return [row["mentions"] for row in rows]
            await asyncio.sleep(0.1)


async def test_members_named_are_mentioned_live_in_history_and_in_the_database(
    system: ChatSystem, database: asyncpg.Connection
) -> None:
    _, alice_name, alice_token = await system.person("alice")
    bob_id, bob_name, bob_token = await system.person("bob")
    carol_id, carol_name, _ = await system.person("carol")  # exists, not in the room
    room = await _room(system, alice_token, "private", bob_id)
    alice = await system.client(system.gateways[0], alice_token)
    bob = await system.client(system.gateways[1], bob_token)
    try:
        await alice.request("join", room=room)
        await bob.request("join", room=room)
        body = (
            f"@{bob_name.upper()}, @{carol_name} and @nobody-{uuid.uuid4().hex[:6]}: "
            f"mail {bob_name}@example.com; me: @{alice_name}"
        )
        sent = await alice.request("send", room=room, body=body, client_msg_id="m1")
        assert sent["message"]["mentions"] == [bob_id]
        plain = await alice.request("send", room=room, body="no one", client_msg_id="m2")
        assert "mentions" not in plain["message"]

        await bob.wait_for(lambda client: len(client.messages(room)) == 2)
        live = bob.messages(room)
        assert live[0]["mentions"] == [bob_id]
        assert "mentions" not in live[1]

        assert await _stored_mentions(database, room, 2) == [[bob_id], None]
        # Both from Postgres now that the worker has them (and from the window before).
        history = await bob.request("history", room=room)
        page = await system.http("GET", f"/v1/rooms/{room}/messages", bob_token)
        for messages in (history["messages"], page.json()["messages"]):
            assert [m.get("mentions") for m in messages] == [[bob_id], None]
        assert carol_id not in str(history)
    finally:
        await alice.close()
        await bob.close()


async def test_history_read_from_postgres_alone_keeps_the_mentions(
    system: ChatSystem, database: asyncpg.Connection
) -> None:
    _, _, alice_token = await system.person("alice")
    bob_id, bob_name, _ = await system.person("bob")
    room = await _room(system, alice_token, "private", bob_id)
    alice = await system.client(system.gateways[0], alice_token)
    try:
        await alice.request("send", room=room, body=f"@{bob_name} hi", client_msg_id="m1")
        await alice.request("send", room=room, body="plain", client_msg_id="m2")
        await _stored_mentions(database, room, 2)
    finally:
        await alice.close()
    # With the room's recent window gone from Redis, only the rows answer.
    redis = Redis.from_url(system.redis_url)
    try:
        assert await redis.delete(f"recent:{room}") == 1
    finally:
        await redis.aclose()
    page = await system.http("GET", f"/v1/rooms/{room}/messages", alice_token)
    assert [m.get("mentions") for m in page.json()["messages"]] == [[bob_id], None]


async def test_a_removed_member_is_mentioned_no_more(system: ChatSystem) -> None:
    _, _, alice_token = await system.person("alice")
    bob_id, bob_name, _ = await system.person("bob")
    room = await _room(system, alice_token, "public", bob_id)
    alice = await system.client(system.gateways[0], alice_token)
    try:
        first = await alice.request("send", room=room, body=f"@{bob_name}", client_msg_id="m1")
        assert first["message"]["mentions"] == [bob_id]
        kicked = await system.http("DELETE", f"/v1/rooms/{room}/members/{bob_id}", alice_token)
        assert kicked.status_code == 204
        again = await alice.request("send", room=room, body=f"@{bob_name}", client_msg_id="m2")
        assert "mentions" not in again["message"]
    finally:
        await alice.close()


async def test_in_a_dm_the_other_person_is_mentioned(system: ChatSystem) -> None:
    a_id, _, a_token = await system.person("a")
    b_id, b_name, _ = await system.person("b")
    _, c_name, _ = await system.person("c")
    dm = f"dm:{min(a_id, b_id)}:{max(a_id, b_id)}"
    a = await system.client(system.gateways[0], a_token)
    try:
        body = f"@{b_name} and @{c_name}"
        sent = await a.request("send", room=dm, body=body, client_msg_id="d1")
        assert sent["message"]["mentions"] == [b_id]
    finally:
        await a.close()


async def test_a_mention_counts_in_the_room_list_until_the_person_reads_past_it(
    system: ChatSystem, database: asyncpg.Connection
) -> None:
    _, _, alice_token = await system.person("alice")
    bob_id, bob_name, bob_token = await system.person("bob")
    room = await _room(system, alice_token, "private", bob_id)
    alice = await system.client(system.gateways[0], alice_token)
    bob = await system.client(system.gateways[1], bob_token)
    try:
        await alice.request("join", room=room)
        await alice.request("send", room=room, body=f"@{bob_name} look", client_msg_id="m1")
        await alice.request("send", room=room, body="and this", client_msg_id="m2")
        sent = await alice.request("send", room=room, body=f"@{bob_name} again", client_msg_id="m3")

        async def listed() -> dict[str, Any]:
            rooms = (await system.http("GET", "/v1/me/rooms", bob_token)).json()["rooms"]
            return next(entry for entry in rooms if entry["id"] == room)

        deadline = asyncio.get_running_loop().time() + STORED_WITHIN_S
        while (entry := await listed())["last_seq"] < 3:
            assert asyncio.get_running_loop().time() < deadline, entry
            await asyncio.sleep(0.2)
        assert (entry["unread"], entry["mentions"]) == (3, 2)

        await bob.request("read", room=room, seq=1)
        assert ((await listed())["unread"], (await listed())["mentions"]) == (2, 1)
        await bob.request("read", room=room, seq=sent["message"]["seq"])
        assert ((await listed())["unread"], (await listed())["mentions"]) == (0, 0)
        left = await database.fetchval(
            "SELECT count(*) FROM unread_mentions WHERE user_id = $1 AND room = $2", bob_id, room
        )
        assert left == 0  # the marker took the rows it passed with it
    finally:
        await alice.close()
        await bob.close()
