from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from chat_common.redis_client import (
    ClusterNodes,
    KeyLayout,
    ResetAwareConnection,
    SentinelGroup,
    create_redis,
    ping,
    replicas_to_wait,
)
from chat_common.revocation import publish_revocation, session_mark_key
from chat_testing.cluster import RedisClusterGroup
from chat_testing.sentinel import SentinelGroup as Sentinels


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


async def test_a_write_racing_the_teardown_of_its_connection_fails_as_a_connection_error(
    redis_url: str,
) -> None:
    """redis-py's cluster client tears down a failed node's connections from another coroutine;
    a write that was just starting on one found no writer (``AttributeError``), which passed
    through as a programming error: the client got ``internal``, and nothing retried it."""
    host, port = urlsplit(redis_url).hostname, urlsplit(redis_url).port
    connection = ResetAwareConnection(host=host or "127.0.0.1", port=port or 6379, socket_timeout=2)
    await connection.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
    teardown = asyncio.create_task(connection.disconnect(nowait=True))
    try:
        with pytest.raises(RedisConnectionError):
            await connection.send_packed_command(connection.pack_command("PING"))
    finally:
        await teardown
        await connection.disconnect()


def test_a_sentinel_url_names_the_sentinels_the_primary_and_the_replicas_to_wait_for() -> None:
    group = SentinelGroup.of("redis+sentinel://:s%40cret@10.0.0.1:26379,sentinel-2:26380/chat/2")
    assert group == SentinelGroup(
        (("10.0.0.1", 26379), ("sentinel-2", 26380)), "chat", 2, "s@cret", 1
    )
    assert SentinelGroup.of("redis+sentinel://h:1/chat?replicas=2").replicas == 2
    assert replicas_to_wait("redis+sentinel://h:1/chat?replicas=0") == 0
    assert replicas_to_wait("redis://127.0.0.1:6379/0") == 0
    for bad in (
        "redis+sentinel:///chat",  # no sentinel
        "redis+sentinel://h:1",  # no primary named
        "redis+sentinel://h/chat",  # no port
        "redis+sentinel://h:1/chat/x",  # a db that is no number
        "redis+sentinel://h:1/chat?replicas=-1",
    ):
        with pytest.raises(ValueError, match=r"sentinel|path|replicas"):
            SentinelGroup.of(bad)


def test_a_cluster_url_names_its_nodes_and_its_password() -> None:
    nodes = ClusterNodes.of("redis+cluster://:s%40cret@10.0.0.1:7000,node-2:7001/")
    assert nodes == ClusterNodes((("10.0.0.1", 7000), ("node-2", 7001)), "s@cret")
    assert ClusterNodes.of("redis+cluster://h:1/0") == ClusterNodes((("h", 1),), None)
    assert replicas_to_wait("redis+cluster://h:1,h:2") == 0


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("redis+cluster://", "at least one node"),
        ("redis+cluster://:pw@/", "at least one node"),
        ("redis+cluster://h", "host:port"),
        ("redis+cluster://h:1,h2", "host:port"),
        ("redis+cluster://h:1/2", "database 0 only"),
        ("redis+cluster://h:1?replicas=1", "replicas= is not supported"),
        ("redis+cluster://h:1?timeout=2", "no query"),
        ("redis://h:1", "not a redis\\+cluster"),
    ],
)
def test_a_bad_cluster_url_is_refused_with_what_is_wrong(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ClusterNodes.of(url)


def test_a_bad_cluster_url_is_refused_before_any_client_is_made() -> None:
    with pytest.raises(ValueError, match="database 0 only"):
        create_redis(
            "redis+cluster://127.0.0.1:1/3", client_name="t", max_connections=2, pool_timeout_s=1
        )


def test_keys_are_tagged_by_their_room_or_person_under_a_cluster_only() -> None:
    assert KeyLayout().tag("room-1") == "room-1"
    assert KeyLayout(clustered=True).tag("room-1") == "{room-1}"
    assert KeyLayout(clustered=True).untag("{room-1}") == "room-1"
    assert KeyLayout().untag("{room-1}") == "{room-1}"


async def test_a_cluster_client_reaches_every_shard_on_reset_aware_connections(
    redis_cluster: RedisClusterGroup,
) -> None:
    client = create_redis(
        redis_cluster.url, client_name="test-cluster", max_connections=4, pool_timeout_s=2
    )
    try:
        assert isinstance(client, RedisCluster)
        assert KeyLayout.of(client).clustered
        # Keys spread over every primary: each answered by the node that owns its slot.
        keys = [f"test-cluster:{uuid.uuid4().hex}" for _ in range(30)]
        for key in keys:
            await client.set(key, key, ex=60)
        assert await client.mget_nonatomic(keys) == [key.encode() for key in keys]
        owners = {node.name for key in keys if (node := client.get_node_from_key(key))}
        assert len(owners) == len(redis_cluster.ports)
        for node in client.get_nodes():
            assert node.connection_class is ResetAwareConnection
    finally:
        await client.aclose()


async def test_a_sentinel_client_follows_a_failover_and_keeps_what_reached_a_replica(
    tmp_path: Path,
) -> None:
    sentinels = Sentinels(tmp_path)
    await sentinels.start()
    client = create_redis(
        sentinels.url, client_name="test-sentinel", max_connections=4, pool_timeout_s=2
    )
    try:
        revoked = await publish_revocation(
            client, user_id="u1", sid="s1", reason="logout", mark_ttl_s=60, replicas=1
        )
        await sentinels.fail_over()
        for _ in range(100):  # the client finds the new primary through the Sentinels
            try:
                mark = await client.get(session_mark_key("s1", "u1"))
                break
            except RedisConnectionError:
                await asyncio.sleep(0.1)
        assert mark == str(revoked.revoked_at).encode()
        await client.set("after", "failover")
        assert await client.get("after") == b"failover"
    finally:
        await client.aclose()
        await sentinels.stop()
