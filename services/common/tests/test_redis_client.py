from __future__ import annotations

import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from chat_common.redis_client import create_redis, ping


async def test_a_message_published_on_a_channel_reaches_its_subscriber(redis_url: str) -> None:
    publisher = create_redis(redis_url, client_name="test-publisher")
    subscriber = create_redis(redis_url, client_name="test-subscriber")
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
    client = create_redis("redis://127.0.0.1:1/0", client_name="test-down", socket_timeout=0.5)
    try:
        with pytest.raises(RedisConnectionError):
            await ping(client)
    finally:
        await client.aclose()
