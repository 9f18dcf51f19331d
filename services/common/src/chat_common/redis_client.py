"""Factory for the asyncio Redis client every service uses.

The pool is bounded and blocking: when every connection is busy (a burst of thousands of
connects or disconnects), a command waits up to ``pool_timeout_s`` for one to come back instead
of failing at once as redis-py's default pool does, and fails with a ``ConnectionError`` (a
``RedisError``: the caller's ``unavailable``) only after that.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A command retries a dropped connection three times within about 0.35 s, enough to ride out a
# pooled socket that Redis closed while idle, short enough that a real outage surfaces fast.
_RETRIES = 3


def create_redis(
    url: str,
    *,
    client_name: str,
    max_connections: int,
    pool_timeout_s: float,
    socket_timeout: float = 2.0,
) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        client_name=client_name,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), _RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis.from_pool(pool)


async def ping(redis: Redis) -> None:
    await redis.ping()
