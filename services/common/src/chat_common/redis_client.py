"""Factory for the asyncio Redis client every service uses: one Redis, a Sentinel group or a
Redis Cluster.

The topology is the URL's: ``redis://`` (or ``rediss://``, ``unix://``) is one Redis;
``redis+sentinel://[:password@]host:port,host:port,.../<master name>[/<db>][?replicas=<n>]`` is
the primary that a group of Sentinels names, found again through them after a failover
(connections to a primary that was demoted fail, and are made again to the new one). Writes that
must survive a failover wait until ``replicas`` replicas (1 by default) hold them
(``replicas_to_wait``; the gateway's message path).
``redis+cluster://[:password@]host:port,host:port,...[/]`` is a Redis Cluster, reached through
any of the nodes named (redis-py's ``RedisCluster`` learns the rest and follows MOVED and ASK).
A Cluster has database 0 only and no ``replicas=``: WAIT names no key, so it cannot be routed to
the node that owns a write's slot (docs/gateway.md, "Redis topologies").

Keys are named by ``KeyLayout``: under a Cluster each key carries a hash tag (``{room}`` or
``{user}``), so the keys one script or MGET touches live in one slot; under one Redis or
Sentinel the names are those they always had, so a rolling upgrade never sees two names for one
room's counter.

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
from redis.asyncio.cluster import ClusterNode, RedisCluster
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
    client got ``internal`` and the command was not retried. Under a Cluster, redis-py also tears
    down a node's connections from another coroutine after a node fails, and a write racing it
    finds no writer at all (``AttributeError``: 'NoneType' object has no attribute
    'writelines'): the same lost connection, and the same ``ConnectionError``."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except (RuntimeError, AttributeError) as exc:
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
CLUSTER_SCHEME = "redis+cluster"

# What the services take as their Redis: one Redis (alone or behind Sentinel) or a Cluster.
RedisClient = Redis | RedisCluster


@dataclass(frozen=True)
class KeyLayout:
    """How keys and channels are named for the topology. Under a Cluster the part that decides
    a key's slot (a room, a person) is a hash tag, so every key of one room, or of one person,
    lives in one slot; elsewhere names are left as they were."""

    clustered: bool = False

    @classmethod
    def of(cls, redis: RedisClient) -> KeyLayout:
        return cls(clustered=isinstance(redis, RedisCluster))

    def tag(self, part: str) -> str:
        return f"{{{part}}}" if self.clustered else part

    def untag(self, part: str) -> str:
        """``part`` as ``tag`` was given it."""
        if self.clustered and part.startswith("{") and part.endswith("}"):
            return part[1:-1]
        return part


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
        sentinels = _hosts(parts.netloc, "a sentinel")
        if not sentinels:
            raise ValueError("a sentinel URL names at least one sentinel (host:port,...)")
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


@dataclass(frozen=True)
class ClusterNodes:
    """A ``redis+cluster://`` URL: nodes to start from (the client learns the others)."""

    nodes: tuple[tuple[str, int], ...]
    password: str | None

    @classmethod
    def of(cls, url: str) -> ClusterNodes:
        parts = urlsplit(url)
        if parts.scheme != CLUSTER_SCHEME:
            raise ValueError(f"not a {CLUSTER_SCHEME}:// URL")
        nodes = _hosts(parts.netloc, "a cluster node")
        if not nodes:
            raise ValueError("a cluster URL names at least one node (host:port,...)")
        if parts.path.strip("/") not in ("", "0"):
            raise ValueError("a Redis Cluster has database 0 only: the path must be / or /0")
        if "replicas" in parse_qs(parts.query):
            raise ValueError(
                "replicas= is not supported for a Redis Cluster: WAIT names no key, so it "
                "cannot be sent to the node that owns a write's slot"
            )
        if parts.query:
            raise ValueError(f"a cluster URL takes no query, not {parts.query!r}")
        password = unquote(parts.password) if parts.password is not None else None
        return cls(tuple(nodes), password)


def _hosts(netloc: str, what: str) -> list[tuple[str, int]]:
    """The ``host:port`` list of a URL naming several servers (after any ``:password@``)."""
    _, _, hosts = netloc.rpartition("@")
    found = []
    for host in hosts.split(",") if hosts else []:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"{what} must be host:port, not {host!r}")
        found.append((name, int(port)))
    return found


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
) -> RedisClient:
    if url.startswith(f"{CLUSTER_SCHEME}://"):
        return _create_cluster(
            ClusterNodes.of(url),
            client_name=client_name,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
        )
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


def _create_cluster(
    cluster: ClusterNodes, *, client_name: str, max_connections: int, socket_timeout: float
) -> RedisCluster:
    """redis-py keeps a list of connections per node and has no blocking pool for a Cluster:
    ``max_connections`` bounds each node's, and a command finding them all busy fails at once
    (a ``ConnectionError``: the caller's ``unavailable``). Retries are the cluster client's own,
    which also refreshes its slot map after a node fails."""
    client = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in cluster.nodes],
        password=cluster.password,
        client_name=client_name,
        max_connections=max_connections,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), _RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    # RedisCluster takes no connection class: it is put where the nodes it knows, and those it
    # learns from the cluster, take theirs.
    client.connection_kwargs["connection_class"] = ResetAwareConnection
    for node in client.nodes_manager.startup_nodes.values():
        node.connection_class = ResetAwareConnection
    return client


async def ping(redis: RedisClient) -> None:
    await redis.ping()
