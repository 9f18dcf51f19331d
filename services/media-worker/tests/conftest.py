"""Fixtures of the media worker's tests: a database of the session's own (the sweep looks at
every upload, so no other suite's rows may be in it), a topic of each test's own, the object
store, a recording stand-in for the gateways, and the worker as a process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from chat_common.kafka_client import ensure_topics
from chat_common.object_store import ObjectStore, ObjectStoreSettings, open_object_store
from chat_testing.databases import migrated_database
from chat_testing.media import (
    TOKEN,
    MediaWorkerProcess,
    RecordingGateway,
    StartMediaWorker,
    Topic,
)


@pytest.fixture(scope="session")
def media_database_url(database_url: str) -> Iterator[str]:
    """A database migrated to head, of this session's own."""
    with migrated_database(database_url, "media") as url:
        yield url


@pytest.fixture
async def database(media_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(media_database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def store(object_store_settings: ObjectStoreSettings) -> AsyncIterator[ObjectStore]:
    async with open_object_store(object_store_settings) as opened:
        yield opened


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[Topic]:
    made = Topic(kafka_bootstrap)
    await ensure_topics(kafka_bootstrap, {made.name: 1})
    await made.start()
    yield made
    await made.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="test-cleanup")
    await admin.start()
    try:
        await admin.delete_topics([made.name])
    finally:
        await admin.close()


@pytest.fixture
async def gateway() -> AsyncIterator[RecordingGateway]:
    async with RecordingGateway().serving() as serving:
        yield serving


@pytest.fixture
async def start_media_worker(
    topic: Topic,
    gateway: RecordingGateway,
    media_database_url: str,
    object_store_settings: ObjectStoreSettings,
    tmp_path: Path,
) -> AsyncIterator[StartMediaWorker]:
    """Starts ``python -m chat_media`` on this test's topic, database, store and gateway, in a
    group of the test's own (``group`` on the returned process's settings)."""
    started: list[MediaWorkerProcess] = []

    async def start(**settings: str) -> MediaWorkerProcess:
        worker = MediaWorkerProcess(
            tmp_path,
            object_store_settings,
            {
                "kafka_bootstrap": topic.bootstrap,
                "topic": topic.name,
                "group_id": topic.group(),
                "database_url": media_database_url,
                "gateway_url": gateway.url,
                "internal_token": TOKEN,
                "retry_initial_ms": "50",
                "retry_max_ms": "200",
                "stored_wait_s": "10",
                "session_timeout_ms": "6000",
                "heartbeat_interval_ms": "1000",
                "poll_max_wait_ms": "100",
                **settings,
            },
        )
        started.append(worker)
        await worker.start()
        return worker

    yield start
    for worker in started:
        await worker.stop()
        # pytest shows this only when the test failed.
        print(f"--- {worker.process.log_path.name}\n{worker.log_tail(200)}")
