"""The whole message path for the gateway's tests: auth-service, persistence worker and
gateways run as real processes on free ports, against the real Postgres and Kafka of the local
stack and a Redis of their own (so Redis can be restarted without disturbing other suites)."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import hypothesis
import pytest
import pytest_asyncio

from chat_common.kafka_client import ensure_topics
from chat_common.object_store import ObjectStoreSettings
from chat_testing import stack
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module, redis_server
from gateway_harness import (
    ORIGIN,
    STRICT_ORIGIN,
    ChatSystem,
    FileGateways,
    RecordedLog,
    auth_service,
    files_gateway,
    gateway_process,
)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChatSystem]:
    log_dir = tmp_path_factory.mktemp("gateway-system")
    kafka, database_url = stack.kafka_bootstrap(), stack.database_url()
    run_id = uuid.uuid4().hex[:10]
    topic, group = f"test.gateway.{run_id}", f"test-gateway-{run_id}"
    await ensure_topics(kafka, {topic: 6})

    redis_port = free_port()
    redis = redis_server(redis_port, log_dir)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    auth_port = free_port()
    auth = auth_service(log_dir, auth_port, database_url, redis_url)
    # Same keys, database and Redis, shortest allowed token lifetime: for expiry tests.
    short_auth_port = free_port()
    short_auth = auth_service(
        log_dir, short_auth_port, database_url, redis_url, CHAT_AUTH_ACCESS_TOKEN_TTL_S="30"
    )
    worker = ServiceProcess(
        "worker",
        python_module("chat_worker"),
        {
            "CHAT_WORKER_KAFKA_BOOTSTRAP": kafka,
            "CHAT_WORKER_TOPIC": topic,
            "CHAT_WORKER_GROUP_ID": group,
            "CHAT_WORKER_DATABASE_URL": database_url,
            "CHAT_WORKER_METRICS_PORT": str(worker_port := free_port()),
        },
        log_dir,
        ready_url=f"http://127.0.0.1:{worker_port}/readyz",
    )
    system = ChatSystem(
        topic=topic,
        group=group,
        kafka=kafka,
        database_url=database_url,
        redis_url=redis_url,
        auth_url=f"http://127.0.0.1:{auth_port}",
        short_auth_url=f"http://127.0.0.1:{short_auth_port}",
        log_dir=log_dir,
        redis=redis,
        auth=auth,
        worker=worker,
    )
    system.gateway_env = {
        "CHAT_GATEWAY_REDIS_URL": redis_url,
        "CHAT_GATEWAY_KAFKA_BOOTSTRAP": kafka,
        "CHAT_GATEWAY_DATABASE_URL": database_url,
        "CHAT_GATEWAY_KAFKA_TOPIC": topic,
        "CHAT_GATEWAY_PERSISTENCE_GROUP": group,
        "CHAT_GATEWAY_JWKS_URL": f"{system.auth_url}/.well-known/jwks.json",
        "CHAT_GATEWAY_ALLOWED_ORIGINS": ORIGIN,
        # Throughput tests send faster than a person; the strict gateway keeps real limits.
        "CHAT_GATEWAY_SEND_RATE_PER_S": "500",
        "CHAT_GATEWAY_SEND_BURST": "1000",
        "CHAT_GATEWAY_DRAIN_GRACE_S": "1",
        # Short presence lapse so a killed gateway's users go offline within seconds here.
        "CHAT_GATEWAY_PRESENCE_TTL_S": "6",
        "CHAT_GATEWAY_PRESENCE_SWEEP_S": "1",
    }
    system.gateways = [gateway_process(system, "gateway-a"), gateway_process(system, "gateway-b")]
    system.strict = gateway_process(
        system,
        "gateway-strict",
        CHAT_GATEWAY_ALLOWED_ORIGINS=STRICT_ORIGIN,
        CHAT_GATEWAY_SEND_RATE_PER_S="5",
        CHAT_GATEWAY_SEND_BURST="10",
        CHAT_GATEWAY_ABUSE_STRIKES="20",
        CHAT_GATEWAY_CONNECT_TIMEOUT_S="1.5",
        CHAT_GATEWAY_OUTBOUND_QUEUE_BYTES="65536",
        CHAT_GATEWAY_MAX_CONNECTIONS_PER_USER="3",
        CHAT_GATEWAY_MAX_FRAME_BYTES="8192",
        CHAT_GATEWAY_MAX_BODY_CHARS="500",
        CHAT_GATEWAY_BAD_FRAMES_BEFORE_CLOSE="30",
        CHAT_GATEWAY_MAX_ROOMS_PER_CONNECTION="5",
        CHAT_GATEWAY_JOIN_RATE_PER_S="1",
        CHAT_GATEWAY_JOIN_BURST="8",
        CHAT_GATEWAY_MAX_OWN_ROOMS_LISTED="10",
        CHAT_GATEWAY_DIRECTORY_PAGE_SIZE="20",
        CHAT_GATEWAY_EDIT_WINDOW_S="1",
    )
    processes = [redis, auth, short_auth, worker, *system.gateways, system.strict]
    try:
        for process in processes:
            await process.start()
        yield system
    finally:
        for process in reversed(processes):
            await process.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def file_gateways(
    system: ChatSystem, object_store_settings: ObjectStoreSettings
) -> AsyncIterator[FileGateways]:
    """The system's gateways take no attachments (no object store); these two do. Tests that
    use them run last, with the object store's (``chat_testing.fixtures``).

    They produce to a topic of their own that no persistence worker stores (``RecordedLog``):
    what the tests see is then the gateway's own doing, from the recent window, whatever the
    worker of this tree makes of attachments. The reads of stored attachments are tested on
    rows as the worker keeps them (``test_message_store.py``)."""
    run_id = uuid.uuid4().hex[:10]
    log = RecordedLog(system.kafka, f"test.gateway.files.{run_id}", f"test-files-{run_id}")
    await ensure_topics(system.kafka, {log.topic: 6})
    await log.start()
    token = secrets.token_hex(16)
    settings = {"CHAT_GATEWAY_KAFKA_TOPIC": log.topic, "CHAT_GATEWAY_PERSISTENCE_GROUP": log.group}
    gateways = (
        files_gateway(
            system, "gateway-files-a", object_store_settings, internal_token=token, **settings
        ),
        files_gateway(
            system, "gateway-files-b", object_store_settings, internal_token=token, **settings
        ),
    )
    try:
        for gateway in gateways:
            await gateway.start()
        yield FileGateways(gateways, object_store_settings, token, log)
    finally:
        for gateway in reversed(gateways):
            await gateway.stop()
        await log.stop()


@pytest.fixture(scope="session")
def redis_url_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for the contract tests of the Redis implementations, apart from the system's."""
    port = free_port()
    redis = redis_server(port, tmp_path_factory.mktemp("contract-redis"))
    asyncio.run(redis.start())
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        asyncio.run(redis.stop())


@pytest_asyncio.fixture(loop_scope="session")
async def database(system: ChatSystem) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the database the system's gateways use."""
    connection = await asyncpg.connect(system.database_url)
    try:
        yield connection
    finally:
        await connection.close()


# Hypothesis: ``ci`` (the default) keeps every property test to seconds in ``make test``;
# HYPOTHESIS_PROFILE=chaos runs many more examples for a long search (docs/reliability.md).
# No deadline: the machine is shared and an example's time says nothing about its correctness.
hypothesis.settings.register_profile("ci", max_examples=200, deadline=None)
hypothesis.settings.register_profile("chaos", max_examples=5_000, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
