"""Factories for aiokafka clients with the delivery settings the message path relies on."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


def create_producer(
    bootstrap_servers: str,
    *,
    client_id: str,
    linger_ms: int = 2,
    request_timeout_ms: int = 10_000,
) -> AIOKafkaProducer:
    # Idempotence forces acks=all and keeps retries from writing a record twice; acks is named
    # anyway so the durability promise (G1) is visible here.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
    )


def create_consumer(
    *topics: str,
    bootstrap_servers: str,
    group_id: str,
    client_id: str,
    max_poll_records: int = 500,
    session_timeout_ms: int = 10_000,
    heartbeat_interval_ms: int = 3_000,
) -> AIOKafkaConsumer:
    # Offsets are committed by hand, only after the work they cover is done (at-least-once).
    # A member that stops heartbeating for session_timeout_ms loses its partitions to the others.
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        isolation_level="read_committed",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: dict[str, int], *, replication_factor: int = 1
) -> None:
    """Create each topic with its partition count unless it exists (auto-creation is off)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="chat-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=replication_factor)
            for name, partitions in topics.items()
            if name not in existing
        ]
        if missing:
            # Another process may create one between list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
