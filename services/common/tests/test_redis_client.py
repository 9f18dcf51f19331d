from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from chat_common.redis_client import create_redis, ping


async def test_a_message_published_on_a_channel_reaches_its_subscriber(redis_url: str) -> None:
    publisher = create_redis(
        redis_url, client_name="test-publisher", max_connections=4, pool_timeout_s=2
    )
    subscriber = create_redis(
        redis_url, client_name="test-subscriber", max_connections=4, pool_timeout_s=2
    )
    channel = f"room:test-{uuid.uuid4().hex}"
    pubsub = subscriber.pubsub()
    try:
        await ping(publisher)
        await pubsub.subscribe(channel)
        confirmation = await pubsub.get_message(timeout=5)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"

        receivers = await publisher.publish(channel, b'{"seq":1}')
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        await publisher.aclose()
        await subscriber.aclose()
    assert receivers == 1
    assert message is not None
    assert message["channel"] == channel.encode()
    assert message["data"] == b'{"seq":1}'


async def test_ping_fails_with_a_connection_error_when_redis_is_unreachable() -> None:
    client = create_redis(
        "redis://127.0.0.1:1/0",
        client_name="test-down",
        socket_timeout=0.5,
        max_connections=4,
        pool_timeout_s=2,
    )
    try:
        with pytest.raises(RedisConnectionError):
            await ping(client)
    finally:
        await client.aclose()


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing(
    redis_url: str,
) -> None:
    client = create_redis(redis_url, client_name="test-burst", max_connections=2, pool_timeout_s=5)
    empty = f"test-empty-{uuid.uuid4().hex}"
    try:
        # Twenty commands at once on two connections, each holding its connection 0.1 s.
        answers = await asyncio.gather(*(client.blpop([empty], timeout=0.1) for _ in range(20)))
    finally:
        await client.aclose()
    assert answers == [None] * 20


async def test_a_pool_busy_beyond_its_timeout_fails_with_a_connection_error(
    redis_url: str,
) -> None:
    client = create_redis(redis_url, client_name="test-busy", max_connections=1, pool_timeout_s=0.1)
    empty = f"test-empty-{uuid.uuid4().hex}"
    try:

        async def hold() -> object:
            return await client.blpop([empty], timeout=1)

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await ping(client)
        assert await holder is None
    finally:
        await client.aclose()
