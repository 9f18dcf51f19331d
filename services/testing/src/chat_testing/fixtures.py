"""The pytest plugin every suite gets (entry point ``pytest11``): the stack's addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from chat_testing import stack
from chat_testing.cluster import RedisClusterGroup


@pytest.fixture(scope="session")
def database_url() -> str:
    return stack.database_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return stack.redis_url()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return stack.kafka_bootstrap()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterGroup]:
    """A 3-primary Redis Cluster of the session's own, for the tests of the Cluster topology.
    A test that restarts a node makes a cluster of its own instead."""
    group = RedisClusterGroup(tmp_path_factory.mktemp("redis-cluster"))
    try:
        asyncio.run(group.start())
        yield group
    finally:
        asyncio.run(group.stop())
