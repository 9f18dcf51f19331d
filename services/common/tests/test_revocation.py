from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest

from chat_common.redis_client import KeyLayout, RedisClient, create_redis, ping
from chat_common.revocation import (
    REVOCATION_CHANNEL,
    Revocation,
    decode_revocation,
    is_revoked,
    publish_revocation,
    session_mark_key,
    user_mark_key,
    user_revoked_at,
)
from chat_common.tokens import AccessClaims
from chat_testing.cluster import RedisClusterGroup


def claims_of(user_id: str, sid: str, iat: int) -> AccessClaims:
    return AccessClaims(
        sub=user_id,
        name="alice",
        roles=("member",),
        sid=sid,
        jti=uuid.uuid4().hex,
        iat=iat,
        nbf=iat,
        exp=iat + 600,
    )


@pytest.fixture(params=["redis", "cluster"])
async def redis(
    request: pytest.FixtureRequest, redis_url: str, redis_cluster: RedisClusterGroup
) -> AsyncIterator[RedisClient]:
    """One Redis, and a Cluster: the marks of one revocation share a slot there."""
    url = redis_url if request.param == "redis" else redis_cluster.url
    client = create_redis(url, client_name="test-revocation", max_connections=4, pool_timeout_s=2.0)
    await ping(client)  # a Cluster's client learns its slots here, before a pub/sub needs them
    yield client
    await client.aclose()


async def test_a_session_revocation_is_marked_and_published(redis: RedisClient) -> None:
    user_id, sid = str(uuid.uuid4()), str(uuid.uuid4())
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(REVOCATION_CHANNEL)
        assert await pubsub.get_message(timeout=5) is not None  # the subscribe confirmation
        sent = await publish_revocation(
            redis, user_id=user_id, sid=sid, reason="logout", mark_ttl_s=660
        )
        received = None
        # Other tests may revoke at the same time: wait for this user's message.
        for _ in range(100):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            assert message is not None, "no revocation message arrived"
            candidate = decode_revocation(message["data"])
            if candidate.user_id == user_id:
                received = candidate
                break
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
    assert received == sent
    assert received.sid == sid
    assert received.reason == "logout"
    layout = KeyLayout.of(redis)
    assert await redis.get(session_mark_key(sid, user_id, layout)) == str(sent.revoked_at).encode()
    assert 600 < await redis.ttl(session_mark_key(sid, user_id, layout)) <= 660
    assert await redis.exists(user_mark_key(user_id, layout)) == 0


async def test_every_token_of_a_revoked_session_is_revoked_and_no_other(redis: RedisClient) -> None:
    user_id, sid, other_sid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    now = int(time.time())
    assert not await is_revoked(redis, claims_of(user_id, sid, now))
    await publish_revocation(redis, user_id=user_id, sid=sid, reason="reuse", mark_ttl_s=60)
    assert await is_revoked(redis, claims_of(user_id, sid, now - 100))
    assert await is_revoked(redis, claims_of(user_id, sid, now + 100))
    assert not await is_revoked(redis, claims_of(user_id, other_sid, now))


async def test_a_user_revocation_covers_tokens_issued_until_then(redis: RedisClient) -> None:
    user_id, other_user = str(uuid.uuid4()), str(uuid.uuid4())
    ended, kept = str(uuid.uuid4()), str(uuid.uuid4())
    at = int(time.time())
    await publish_revocation(
        redis,
        user_id=user_id,
        sid=None,
        reason="logout everywhere",
        mark_ttl_s=60,
        also_sids=(ended,),
        revoked_at=at,
    )
    assert await user_revoked_at(redis, user_id) == at
    assert await is_revoked(redis, claims_of(user_id, kept, at))
    assert await is_revoked(redis, claims_of(user_id, kept, at - 1))
    assert not await is_revoked(redis, claims_of(user_id, kept, at + 1))
    # The sessions it ended stay revoked whatever their tokens' iat.
    assert await is_revoked(redis, claims_of(user_id, ended, at + 1))
    assert not await is_revoked(redis, claims_of(other_user, kept, at - 1))
    assert await user_revoked_at(redis, other_user) is None


def test_a_message_covers_exactly_the_tokens_it_revokes() -> None:
    user_id, sid = str(uuid.uuid4()), str(uuid.uuid4())
    one = Revocation(user_id=user_id, sid=sid, reason="logout", revoked_at=1000)
    every = Revocation(user_id=user_id, sid=None, reason="logout everywhere", revoked_at=1000)
    assert one.covers(claims_of(user_id, sid, 2000))
    assert not one.covers(claims_of(user_id, str(uuid.uuid4()), 900))
    assert every.covers(claims_of(user_id, str(uuid.uuid4()), 1000))
    assert not every.covers(claims_of(user_id, str(uuid.uuid4()), 1001))
    assert not every.covers(claims_of(str(uuid.uuid4()), sid, 900))


@pytest.mark.parametrize("data", [b"not json", b'{"user_id": "u"}', b"[]"])
def test_anything_but_a_revocation_message_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="invalid revocation message"):
        decode_revocation(data)
