from __future__ import annotations

import uuid

from aiokafka import TopicPartition

from chat_common.kafka_client import create_consumer, create_producer, ensure_topics


async def test_a_record_from_the_idempotent_producer_is_consumed_and_committed(
    kafka_bootstrap: str,
) -> None:
    topic = f"test.foundation.{uuid.uuid4().hex}"
    group = f"test-group-{uuid.uuid4().hex}"
    await ensure_topics(kafka_bootstrap, {topic: 3})
    await ensure_topics(kafka_bootstrap, {topic: 3})  # a second call finds it and does nothing

    producer = create_producer(kafka_bootstrap, client_id="test-producer")
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, b"hello", key=b"room-1")
    finally:
        await producer.stop()
    partition = TopicPartition(topic, metadata.partition)

    consumer = create_consumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, client_id="test-consumer"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        records = [record for batch in batches.values() for record in batch]
        await consumer.commit({partition: metadata.offset + 1})
        committed = await consumer.committed(partition)
    finally:
        await consumer.stop()

    assert [(record.key, record.value) for record in records] == [(b"room-1", b"hello")]
    assert committed == metadata.offset + 1

    # A new member of the same group resumes after the committed offset: nothing is read twice.
    again = create_consumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, client_id="test-consumer-2"
    )
    await again.start()
    try:
        assert await again.committed(partition) == metadata.offset + 1
        batches = await again.getmany(timeout_ms=2_000)
    finally:
        await again.stop()
    assert not any(batches.values())
