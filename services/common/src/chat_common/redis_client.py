"""Factory for the asyncio Redis client every service uses, for one Redis or a Sentinel group.

The topology is the URL's: ``redis://`` (or ``rediss://``, ``unix://``) is one Redis;
``redis+sentinel://[:password@]host:port,host:port,.../<master name>[/<db>][?replicas=<n>]`` is
the primary that a group of Sentinels names, found again through them after a failover
(connections to a primary that was demoted fail, and are made again to the new one). Writes that
must survive a failover wait until ``replicas`` replicas (1 by default) hold them
(``replicas_to_wait``; the gateway's message path).

The pool is bounded and blocking: when every connection is busy (a burst of thousands of
connects or disconnects), a command waits up to ``pool_timeout_s`` for one to come back instead
of failing at once as redis-py's default pool does, and fails with a ``ConnectionError`` (a
``RedisError``: the caller's ``unavailable``) only after that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
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


class ResetAwareSentinelConnection(_ResetAware, SentinelManagedConnection):
    pass


# The connection class redis-py picks from the URL's scheme, and ours in its place.
_RESET_AWARE: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: ResetAwareConnection,
    SSLConnection: ResetAwareSSLConnection,
    UnixDomainSocketConnection: ResetAwareUnixConnection,
}

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelGroup:
    """A ``redis+sentinel://`` URL: where the Sentinels are and the primary they name."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None
    # Replicas that must hold a write before it counts (``?replicas=``, 1 unless given):
    # replication is asynchronous, and a replica promoted without a write never had it.
    replicas: int = 1

    @classmethod
    def of(cls, url: str) -> SentinelGroup:
        parts = urlsplit(url)
        if parts.scheme != SENTINEL_SCHEME:
            raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
        _, _, hosts = parts.netloc.rpartition("@")
        sentinels = []
        for host in hosts.split(","):
            name, _, port = host.rpartition(":")
            if not name or not port.isdigit():
                raise ValueError(f"a sentinel must be host:port, not {host!r}")
            sentinels.append((name, int(port)))
        path = [unquote(piece) for piece in parts.path.split("/") if piece]
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ValueError("the path must be /<master name>[/<db>]")
        password = unquote(parts.password) if parts.password is not None else None
        db = int(path[1]) if len(path) == 2 else 0
        query = parse_qs(parts.query)
        replicas = int(query.get("replicas", ["1"])[0])
        if replicas < 0:
            raise ValueError("replicas must be 0 or more")
        return cls(tuple(sentinels), path[0], db, password, replicas)


def replicas_to_wait(url: str) -> int:
    """How many replicas a write that must survive a failover waits for (``WAIT``): those of
    a ``redis+sentinel://`` URL, none for one Redis."""
    return SentinelGroup.of(url).replicas if url.startswith(f"{SENTINEL_SCHEME}://") else 0


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The Sentinels' primary, with the blocking pool's waiting for a free connection. Closing
    it closes the connections to the Sentinels too, which redis-py leaves open."""

    async def aclose(self) -> None:
        await super().aclose()
        for sentinel in self.sentinel_manager.sentinels:
            await sentinel.aclose()


def _pool_options(
    client_name: str, max_connections: int, pool_timeout_s: float, socket_timeout: float
) -> dict[str, Any]:
    return {
        "max_connections": max_connections,
        "timeout": pool_timeout_s,
        "client_name": client_name,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "health_check_interval": 15,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), _RETRIES),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def create_redis(
    url: str,
    *,
    client_name: str,
    max_connections: int,
    pool_timeout_s: float,
    socket_timeout: float = 2.0,
) -> Redis:
    options = _pool_options(client_name, max_connections, pool_timeout_s, socket_timeout)
    if url.startswith(f"{SENTINEL_SCHEME}://"):
        group = SentinelGroup.of(url)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # unannotated in redis-py
            list(group.sentinels),
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
        )
        pool: BlockingConnectionPool = BlockingSentinelPool(  # type: ignore[no-untyped-call]
            group.master,
            sentinel,
            connection_class=ResetAwareSentinelConnection,
            db=group.db,
            password=group.password,
            **options,
        )
        return Redis.from_pool(pool)
    pool = BlockingConnectionPool.from_url(url, **options)
    pool.connection_class = _RESET_AWARE.get(pool.connection_class, pool.connection_class)
    return Redis.from_pool(pool)


async def ping(redis: Redis) -> None:
    await redis.ping()
