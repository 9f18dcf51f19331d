"""Fixtures of the worker's tests; the classes behind them are in worker_harness."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chat_testing.ports import free_port
from worker_harness import (
    SESSION_TIMEOUT_MS,
    Conversation,
    MessageTable,
    PrivatePostgres,
    StartWorker,
    Topics,
    WorkerProcess,
    unique,
)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> AsyncIterator[Topics]:
    made = Topics(kafka_bootstrap)
    await made.create()
    yield made
    await made.delete()


@pytest.fixture
def conversation() -> Conversation:
    return Conversation(room_count=100)


@pytest.fixture
async def stored(conversation: Conversation, database_url: str) -> AsyncIterator[MessageTable]:
    """The shared database's rows of this test's rooms; deleted afterwards."""
    table = MessageTable(database_url, conversation.rooms)
    yield table
    await table.delete()


@pytest.fixture
async def start_worker(
    topics: Topics, database_url: str, tmp_path: Path
) -> AsyncIterator[StartWorker]:
    """Start a worker on this test's topics; by default in a group of this test's own."""
    group = unique("test-worker-")
    started: list[WorkerProcess] = []
    counter = itertools.count(1)

    async def start(**settings: str) -> WorkerProcess:
        env = {
            **os.environ,
            "CHAT_WORKER_KAFKA_BOOTSTRAP": topics.bootstrap,
            "CHAT_WORKER_TOPIC": topics.name,
            "CHAT_WORKER_DLQ_TOPIC": topics.dlq,
            "CHAT_WORKER_GROUP_ID": group,
            "CHAT_WORKER_DATABASE_URL": database_url,
            "CHAT_WORKER_METRICS_PORT": str(free_port()),
            "CHAT_WORKER_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "CHAT_WORKER_HEARTBEAT_INTERVAL_MS": "1000",
            "CHAT_WORKER_LOG_LEVEL": "info",
        }
        env.update({f"CHAT_WORKER_{key.upper()}": value for key, value in settings.items()})
        worker = WorkerProcess(env, tmp_path / f"worker-{next(counter)}.log")
        started.append(worker)
        await worker.wait_serving()
        return worker

    yield start
    for worker in started:
        worker.kill()
        # pytest shows this only when the test failed.
        print(f"--- {worker.log_path.name}\n{worker.log_tail(200)}")


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    postgres = PrivatePostgres()
    try:
        await postgres.create()
        yield postgres
    finally:
        await postgres.destroy()
