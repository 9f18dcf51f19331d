"""The message path across two gateways: durable ack, one order, catch-up, idempotent send."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer

from gateway_harness import ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


async def _stored_ids(system: ChatSystem, room: str) -> list[str]:
    connection = await asyncpg.connect(system.database_url)
    try:
        rows = await connection.fetch("SELECT id FROM messages WHERE room = $1 ORDER BY seq", room)
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


async def _wait_stored(
    system: ChatSystem, room: str, count: int, limit_s: float = 20.0
) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        ids = await _stored_ids(system, room)
        if len(ids) >= count or loop.time() > deadline:
            return ids
        await asyncio.sleep(0.1)


async def _in_kafka(system: ChatSystem, message_id: str) -> bool:
    consumer = AIOKafkaConsumer(
        system.topic,
        bootstrap_servers=system.kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                return False
            for records in batch.values():
                for record in records:
                    if msgspec.json.decode(record.value)["id"] == message_id:
                        return True
    finally:
        await consumer.stop()


async def test_two_clients_on_two_gateways_chat_and_every_ack_is_durable(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, alice_token), (_, bob_token) = await system.user("alice"), await system.user("bob")
    alice = await system.client(system.gateways[0], alice_token)
    bob = await system.client(system.gateways[1], bob_token)
    try:
        await alice.request("join", room=room)
        await bob.request("join", room=room)
        ack = await alice.request("send", room=room, body="hello bob", client_msg_id="a-1")
        message = ack["message"]
        assert message["seq"] == 1
        assert message["body"] == "hello bob"
        assert await _in_kafka(system, message["id"])  # durable at ack time (G1)

        await bob.wait_for(lambda c: len(c.messages(room)) == 1)
        assert bob.messages(room)[0] == message
        reply = await bob.request("send", room=room, body="hi alice", client_msg_id="b-1")
        await alice.wait_for(lambda c: len(c.messages(room)) == 2)
        assert [m["body"] for m in alice.messages(room)] == ["hello bob", "hi alice"]
        assert reply["message"]["seq"] == 2
        assert await _wait_stored(system, room, 2) == [message["id"], reply["message"]["id"]]
    finally:
        await alice.close()
        await bob.close()


async def test_concurrent_senders_on_both_gateways_give_everyone_one_order(
    system: ChatSystem,
) -> None:
    room = _room()
    users = [await system.user("sender") for _ in range(4)]
    clients = [
        await system.client(system.gateways[i % 2], token) for i, (_, token) in enumerate(users)
    ]
    per_sender = 25
    try:
        for client in clients:
            await client.request("join", room=room)

        async def burst(client: ChatClient, who: int) -> None:
            for n in range(per_sender):
                await client.request(
                    "send", room=room, body=f"{who}:{n}", client_msg_id=f"{who}-{n}"
                )

        await asyncio.gather(*(burst(client, who) for who, client in enumerate(clients)))
        total = per_sender * len(clients)
        for client in clients:
            await client.wait_for(lambda c: len(c.messages(room)) >= total)
        orders = [[m["seq"] for m in client.messages(room)] for client in clients]
        assert orders[0] == list(range(1, total + 1))
        assert all(order == orders[0] for order in orders)
        ids = [[m["id"] for m in client.messages(room)] for client in clients]
        assert all(seen == ids[0] for seen in ids)
        assert await _wait_stored(system, room, total) == ids[0]
    finally:
        for client in clients:
            await client.close()


async def test_reconnecting_to_the_other_gateway_with_since_gets_exactly_what_was_missed(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, reader_token), (_, writer_token) = await system.user("reader"), await system.user("writer")
    reader = await system.client(system.gateways[0], reader_token)
    writer = await system.client(system.gateways[1], writer_token)
    try:
        await reader.request("join", room=room)
        await writer.request("join", room=room)
        for n in range(3):
            await writer.request("send", room=room, body=f"before {n}", client_msg_id=f"b{n}")
        await reader.wait_for(lambda c: len(c.messages(room)) == 3)
        last_seen = reader.messages(room)[-1]["seq"]
        await reader.close()

        missed = [
            (await writer.request("send", room=room, body=f"missed {n}", client_msg_id=f"m{n}"))[
                "message"
            ]
            for n in range(5)
        ]
        back = await system.client(system.gateways[1], reader_token)
        try:
            joined = await back.request("join", room=room, since=last_seen)
            assert joined["recovered"] is True
            assert joined["messages"] == missed
            assert joined["last_seq"] == missed[-1]["seq"]
            live = await writer.request("send", room=room, body="live", client_msg_id="live")
            await back.wait_for(lambda c: len(c.messages(room)) == 1)
            assert back.messages(room) == [live["message"]]
        finally:
            await back.close()
    finally:
        await writer.close()


async def test_resending_a_client_msg_id_returns_the_first_result_and_adds_nothing(
    system: ChatSystem,
) -> None:
    room = _room()
    _, token = await system.user("resender")
    first_client = await system.client(system.gateways[0], token)
    second_client = await system.client(system.gateways[1], token)
    try:
        await first_client.request("join", room=room)
        first = await first_client.request("send", room=room, body="once", client_msg_id="same")
        again = await second_client.request("send", room=room, body="once", client_msg_id="same")
        assert again["message"] == first["message"]
        other = await first_client.request("send", room=room, body="next", client_msg_id="next")
        assert other["message"]["seq"] == first["message"]["seq"] + 1
        assert len(await _wait_stored(system, room, 2)) == 2
        await asyncio.sleep(0.5)
        assert len(await _stored_ids(system, room)) == 2
    finally:
        await first_client.close()
        await second_client.close()


async def test_history_pages_backwards_over_websocket_and_http(system: ChatSystem) -> None:
    room = _room()
    _, token = await system.user("historian")
    client = await system.client(system.gateways[0], token)
    try:
        await client.request("join", room=room)
        sent = [
            (await client.request("send", room=room, body=f"m{n}", client_msg_id=f"h{n}"))[
                "message"
            ]
            for n in range(7)
        ]
        page = await client.request("history", room=room, limit=3)
        assert page["messages"] == sent[-3:]
        assert page["has_more"] is True
        older = await client.request("history", room=room, before=sent[-3]["seq"], limit=3)
        assert older["messages"] == sent[1:4]
        await _wait_stored(system, room, 7)
        async with httpx.AsyncClient(base_url=system.http_url(system.gateways[1])) as http:
            response = await http.get(
                f"/v1/rooms/{room}/messages",
                params={"before": 3, "limit": 5},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            assert body == {"messages": sent[:2], "has_more": False}
            assert (await http.get(f"/v1/rooms/{room}/messages")).status_code == 401
            rooms = await http.get("/v1/rooms", headers={"Authorization": f"Bearer {token}"})
            listed = {r["id"]: r for r in rooms.json()["rooms"]}
            assert listed[room]["last_seq"] == 7
    finally:
        await client.close()


async def _gauges(system: ChatSystem) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=system.http_url(system.gateways[0])) as http:
        text = (await http.get("/metrics")).text
    wanted = (
        "chat_gateway_connections",
        "chat_gateway_room_memberships",
        "chat_gateway_room_subscriptions",
    )
    return {
        name: float(value)
        for name, value in (line.split() for line in text.splitlines() if line.startswith(wanted))
    }


async def test_gauges_return_to_where_they_were_when_connections_close(
    system: ChatSystem,
) -> None:
    before = await _gauges(system)
    _, token = await system.user("counted")
    clients = [await system.client(system.gateways[0], token) for _ in range(2)]
    rooms = [_room(), _room()]
    for client in clients:
        for room in rooms:
            await client.request("join", room=room)
    during = await _gauges(system)
    assert during["chat_gateway_room_memberships"] == before["chat_gateway_room_memberships"] + 4
    assert (
        during["chat_gateway_room_subscriptions"] == before["chat_gateway_room_subscriptions"] + 2
    )
    for client in clients:
        await client.close()
    await asyncio.sleep(0.5)
    assert await _gauges(system) == before
