"""State that follows the person, across two gateways on the real Redis, Postgres and Kafka:
persisted memberships, ``GET /v1/me/rooms``, read markers and the person's channel."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from gateway_harness import ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What the protocol promises for the person's events: every connection, every gateway.
WITHIN_S = 1.0


def _name() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


async def _my_rooms(system: ChatSystem, token: str, gateway: int = 0) -> dict[str, Any]:
    listed = await system.http("GET", "/v1/me/rooms", token, gateway=gateway)
    assert listed.status_code == 200, listed.text
    return {room["id"]: room for room in listed.json()["rooms"]}


def _rooms_events(client: ChatClient) -> list[dict[str, Any]]:
    return [event for event in client.events if event["type"] == "rooms"]


def _added(client: ChatClient, room: str) -> bool:
    return any(room in {r["id"] for r in e["added"]} for e in _rooms_events(client))


def _removed(client: ChatClient, room: str) -> bool:
    return any(room in e["removed"] for e in _rooms_events(client))


async def _eventually(check: Any, limit_s: float = 15.0) -> None:
    async with asyncio.timeout(limit_s):
        while not await check():
            await asyncio.sleep(0.05)


async def test_a_room_joined_on_one_gateway_is_listed_and_told_on_the_other(
    system: ChatSystem,
) -> None:
    _, token = await system.user("ada")
    room = _name()
    laptop = await system.client(system.gateways[0], token)
    phone = await system.client(system.gateways[1], token)
    try:
        await laptop.request("join", room=room)
        await phone.wait_for(lambda client: _added(client, room), limit_s=WITHIN_S)
        [event] = _rooms_events(phone)
        [added] = event["added"]
        assert {k: added[k] for k in ("id", "kind", "role", "read_seq", "unread")} == {
            "id": room,
            "kind": "public",
            "role": "member",
            "read_seq": 0,
            "unread": 0,
        }
        assert (await _my_rooms(system, token, gateway=1))[room]["role"] == "member"

        await laptop.request("leave", room=room)
        await phone.wait_for(lambda client: _removed(client, room), limit_s=WITHIN_S)
        assert room not in await _my_rooms(system, token)
    finally:
        await laptop.close()
        await phone.close()


async def test_read_on_one_gateway_is_told_on_the_other_and_the_room_shows_nothing_unread(
    system: ChatSystem,
) -> None:
    (_, ada_token), (_, bob_token) = await system.user("ada"), await system.user("bob")
    room = _name()
    ada = await system.client(system.gateways[0], ada_token)
    bob_laptop = await system.client(system.gateways[0], bob_token)
    bob_phone = await system.client(system.gateways[1], bob_token)
    try:
        await bob_laptop.request("join", room=room)
        await ada.request("join", room=room)
        for body in ("one", "two", "three"):
            await ada.request("send", room=room, body=body, client_msg_id=body)

        async def stored() -> bool:
            return bool((await _my_rooms(system, bob_token))[room]["unread"] == 3)

        await _eventually(stored)  # the worker moved the room's last_seq

        # Ada has read what she wrote: the worker moves authors' markers, a second or so after
        # it stored their messages.
        async def read_her_own() -> bool:
            return bool((await _my_rooms(system, ada_token))[room]["read_seq"] == 3)

        await _eventually(read_her_own)

        assert (await bob_laptop.request("read", room=room, seq=3))["type"] == "reply"
        await bob_phone.wait_for(
            lambda c: any(e["type"] == "read" for e in c.events), limit_s=WITHIN_S
        )
        assert [e for e in bob_phone.events if e["type"] == "read"] == [
            {"type": "read", "room": room, "seq": 3}
        ]
        listed = (await _my_rooms(system, bob_token, gateway=1))[room]
        assert (listed["last_seq"], listed["read_seq"], listed["unread"]) == (3, 3, 0)

        # Lower is ignored; higher than the newest is the newest.
        await bob_laptop.request("read", room=room, seq=1)
        await bob_laptop.request("read", room=room, seq=10**9)
        assert (await _my_rooms(system, bob_token))[room]["read_seq"] == 3
    finally:
        for client in (ada, bob_laptop, bob_phone):
            await client.close()


async def test_a_dm_started_by_alice_reaches_bob_at_once(system: ChatSystem) -> None:
    (alice_id, alice_token), (bob_id, bob_token) = (
        await system.user("alice"),
        await system.user("bob"),
    )
    room = f"dm:{min(alice_id, bob_id)}:{max(alice_id, bob_id)}"
    alice = await system.client(system.gateways[0], alice_token)
    bob = await system.client(system.gateways[1], bob_token)
    try:
        await alice.request("send", room=room, body="hello bob", client_msg_id="d1")
        await bob.wait_for(lambda client: _added(client, room), limit_s=WITHIN_S)
        assert (await _my_rooms(system, bob_token, gateway=1))[room]["kind"] == "dm"
        await alice.wait_for(lambda client: _added(client, room), limit_s=WITHIN_S)
        deleted = await system.http("DELETE", f"/v1/me/rooms/{room}", bob_token)
        assert deleted.status_code == 422
    finally:
        await alice.close()
        await bob.close()


async def test_added_to_a_private_room_then_kicked_the_room_comes_and_goes(
    system: ChatSystem,
) -> None:
    (_, owner_token), (bob_id, bob_token) = await system.user("owner"), await system.user("bob")
    room = _name()
    owner = await system.client(system.gateways[0], owner_token)
    bob = await system.client(system.gateways[1], bob_token)
    try:
        created = await system.http(
            "POST", "/v1/rooms", owner_token, {"name": room, "kind": "private"}
        )
        assert created.status_code == 201
        await owner.wait_for(lambda client: _added(client, room), limit_s=WITHIN_S)
        assert (await _my_rooms(system, owner_token))[room]["role"] == "owner"

        added = await system.http(
            "POST", f"/v1/rooms/{room}/members", owner_token, {"user_id": bob_id}
        )
        assert added.status_code == 201
        await bob.wait_for(lambda client: _added(client, room), limit_s=WITHIN_S)
        assert room in await _my_rooms(system, bob_token)

        kicked = await system.http("DELETE", f"/v1/rooms/{room}/members/{bob_id}", owner_token)
        assert kicked.status_code == 204
        await bob.wait_for(lambda client: _removed(client, room), limit_s=WITHIN_S)
        assert room not in await _my_rooms(system, bob_token)
        # The owner of a private room cannot leave it: nobody could add anyone any more.
        refused = await system.http("DELETE", f"/v1/me/rooms/{room}", owner_token)
        assert refused.status_code == 403
        assert "owner" in refused.json()["message"]
    finally:
        await owner.close()
        await bob.close()


async def test_memberships_survive_a_reconnect_and_put_and_delete_work_over_http(
    system: ChatSystem,
) -> None:
    _, token = await system.user("ada")
    joined, put = _name(), _name()
    first = await system.client(system.gateways[0], token)
    await first.request("join", room=joined)
    await first.close()

    created = await system.http("POST", "/v1/rooms", token, {"name": put})
    assert created.status_code == 201
    await system.http("DELETE", f"/v1/me/rooms/{put}", token)  # the owner leaves it
    again = await system.client(system.gateways[1], token)
    try:
        assert joined in await _my_rooms(system, token, gateway=1)
        assert put not in await _my_rooms(system, token)

        answer = await system.http("PUT", f"/v1/me/rooms/{put}", token, gateway=1)
        assert answer.status_code == 201
        assert (answer.json()["id"], answer.json()["role"]) == (put, "member")
        await again.wait_for(lambda client: _added(client, put), limit_s=WITHIN_S)
        assert (await system.http("PUT", f"/v1/me/rooms/{put}", token)).status_code == 200
        assert put in await _my_rooms(system, token)

        assert (await system.http("DELETE", f"/v1/me/rooms/{put}", token)).status_code == 204
        await again.wait_for(lambda client: _removed(client, put), limit_s=WITHIN_S)
        assert put not in await _my_rooms(system, token)
        assert (await system.http("DELETE", f"/v1/me/rooms/{put}", token)).status_code == 204
    finally:
        await again.close()


async def test_bad_person_commands_and_routes_get_clear_errors(system: ChatSystem) -> None:
    (_, owner_token), (_, token) = await system.user("owner"), await system.user("ada")
    private, public = _name(), _name()
    for name, kind in ((private, "private"), (public, "public")):
        created = await system.http("POST", "/v1/rooms", owner_token, {"name": name, "kind": kind})
        assert created.status_code == 201
    ada = await system.client(system.gateways[0], token)
    try:
        negative = await ada.command("read", room=public, seq=-1)
        assert (negative["code"], "seq" in negative["message"]) == ("bad_request", True)
        assert (await ada.command("read", room=public))["code"] == "bad_request"
        assert (await ada.command("read", room=private, seq=1))["code"] == "forbidden"
        assert (await ada.command("read", room=_name(), seq=1))["code"] == "not_found"
        assert (await ada.request("ping"))["type"] == "reply"  # the connection goes on

        for method in ("PUT", "DELETE"):
            refused = await system.http(method, f"/v1/me/rooms/{private}", token)
            assert refused.status_code == (403 if method == "PUT" else 204), refused.text
            assert (await system.http(method, f"/v1/me/rooms/{_name()}", token)).status_code == 404
            bad = await system.http(method, "/v1/me/rooms/No%20Such", token)
            assert bad.status_code == 422
        assert private not in await _my_rooms(system, token)
        unsigned = await system.http("GET", "/v1/me/rooms", "not-a-token")
        assert unsigned.status_code == 401
    finally:
        await ada.close()
