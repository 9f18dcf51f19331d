"""Factory for the asyncio Redis client every service uses.

The pool is bounded and blocking: when every connection is busy (a burst of thousands of
connects or disconnects), a command waits up to ``pool_timeout_s`` for one to come back instead
of failing at once as redis-py's default pool does, and fails with a ``ConnectionError`` (a
``RedisError``: the caller's ``unavailable``) only after that.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A command retries a dropped connection three times within about 0.35 s, enough to ride out a
# pooled socket that Redis closed while idle, short enough that a real outage surfaces fast.
_RETRIES = 3


class _ResetAware(AbstractConnection):
    """A write to a socket the peer has already reset fails as a ``ConnectionError`` on every
    event loop. redis-py turns asyncio's error there into one, but uvloop's transport raises
    ``RuntimeError`` ("the handler is closed"), which passed through as a programming error: a
    client got ``internal`` and the command was not retried."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as exc:
            writer = self._writer
            if writer is not None and not writer.transport.is_closing():
                raise
            await self.disconnect(nowait=True)
            raise RedisConnectionError(
                f"Error while writing to {self._host_error()}: {exc}"
            ) from exc


class ResetAwareConnection(_ResetAware, Connection):
    pass


class ResetAwareSSLConnection(_ResetAware, SSLConnection):
    pass


class ResetAwareUnixConnection(_ResetAware, UnixDomainSocketConnection):
    pass


# The connection class redis-py picks from the URL's scheme, and ours in its place.
_RESET_AWARE: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: ResetAwareConnection,
    SSLConnection: ResetAwareSSLConnection,
    UnixDomainSocketConnection: ResetAwareUnixConnection,
}


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
    pool.connection_class = _RESET_AWARE.get(pool.connection_class, pool.connection_class)
    return Redis.from_pool(pool)


async def ping(redis: Redis) -> None:
    await redis.ping()
