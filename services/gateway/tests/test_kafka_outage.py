"""Kafka down: sends are refused with ``unavailable`` and nothing is stored; then they work."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chat_common.kafka_client import ensure_topics
from chat_testing.ports import free_port
from gateway_harness import ChatSystem, gateway_process, kafka_broker

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]


async def test_sends_fail_cleanly_while_kafka_is_down_and_succeed_after(
    system: ChatSystem, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A broker of this test's own: stopping the shared one would disturb every other suite.
    port = free_port()
    broker = kafka_broker(port, free_port(), tmp_path_factory.mktemp("kafka"))
    await broker.start(limit_s=90)
    topic = "chat.messages"
    gateway = None
    try:
        await ensure_topics(f"127.0.0.1:{port}", {topic: 3})
        gateway = gateway_process(
            system,
            "gateway-kafka",
            CHAT_GATEWAY_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}",
            CHAT_GATEWAY_KAFKA_TOPIC=topic,
            CHAT_GATEWAY_KAFKA_REQUEST_TIMEOUT_MS="1500",
        )
        await gateway.start()
        room = f"room-{uuid.uuid4().hex[:12]}"
        _, token = await system.user("patient")
        client = await system.client(gateway, token)
        try:
            await client.request("join", room=room)
            first = await client.request("send", room=room, body="one", client_msg_id="k1")
            await broker.stop()

            refused = await client.command("send", room=room, body="two", client_msg_id="k2")
            assert refused["type"] == "error"
            assert refused["code"] == "unavailable"
            history = await client.request("history", room=room)
            assert [m["body"] for m in history["messages"]] == ["one"]  # nothing stored

            await broker.start(limit_s=90)
            for _ in range(60):
                retried = await client.command("send", room=room, body="two", client_msg_id="k2")
                if retried["type"] == "reply":
                    break
                assert retried["code"] == "unavailable"
                await asyncio.sleep(0.5)
            assert retried["type"] == "reply"
            assert retried["message"]["seq"] > first["message"]["seq"]
            history = await client.request("history", room=room)
            assert [m["body"] for m in history["messages"]] == ["one", "two"]
            assert [m["body"] for m in client.messages(room)] == ["one", "two"]
        finally:
            await client.close()
    finally:
        if gateway is not None:
            await gateway.stop()
        await broker.stop()
