"""The pytest plugin every suite gets (entry point ``pytest11``): the stack's addresses, and a
Redis Cluster and an object store of the session's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from chat_testing import stack
from chat_testing.cluster import RedisClusterGroup

if TYPE_CHECKING:
    from chat_common.object_store import ObjectStoreSettings


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


@pytest.fixture(scope="session")
def object_store_settings(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ObjectStoreSettings]:
    """Settings of a SeaweedFS started for this session, its bucket empty at the start. The
    process needs no event loop of its own, so each test's loop may use it."""
    # Imported here: every suite loads this plugin, few need the S3 client.
    from chat_testing.object_store import SeaweedStore

    store = SeaweedStore(tmp_path_factory.mktemp("seaweedfs"))
    try:
        asyncio.run(store.start())
        yield store.settings
    finally:
        asyncio.run(store.stop())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests of the object store run last: on a fresh machine the SeaweedFS build that
    ``make install`` started in the background is then done, or nearly, when its fixture needs
    the binary, instead of holding the run up at the start. The order of the rest is kept."""
    items.sort(key=lambda item: "object_store_settings" in getattr(item, "fixturenames", ()))
