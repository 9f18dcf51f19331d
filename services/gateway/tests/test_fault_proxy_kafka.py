"""Kafka through the fault proxy: a broker of this module's own advertises the proxy's address, so
every connection of a client, not only its bootstrap, goes through the proxy's faults."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from chat_common.kafka_client import ensure_topics
from chat_testing.fault_proxy import FaultProxy
from chat_testing.ports import free_port
from gateway_harness import kafka_broker

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def proxy(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultProxy]:
    port = free_port()
    proxy = FaultProxy("127.0.0.1", port)
    await proxy.start()  # before the broker, which is found ready through it
    broker = kafka_broker(
        port, free_port(), tmp_path_factory.mktemp("kafka"), advertised_port=proxy.port
    )
    try:
        await broker.start(limit_s=90)
        yield proxy
    finally:
        await broker.stop()
        await proxy.stop()


async def new_topic(proxy: FaultProxy) -> str:
    topic = f"test.fault-proxy.{uuid.uuid4().hex[:10]}"
    await ensure_topics(address(proxy), {topic: 1})
    return topic


def address(proxy: FaultProxy) -> str:
    return f"127.0.0.1:{proxy.port}"


async def started_producer(proxy: FaultProxy) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=address(proxy), acks="all", enable_idempotence=True
    )
    await producer.start()
    return producer


async def consumed(proxy: FaultProxy, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=address(proxy), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        values: list[bytes] = []
        async with asyncio.timeout(60):
            while len(values) < count:
                batches = await consumer.getmany(timeout_ms=1000)
                values += [record.value for records in batches.values() for record in records]
        return values
    finally:
        await consumer.stop()


async def test_a_client_reaches_the_broker_only_through_the_proxy(proxy: FaultProxy) -> None:
    topic = await new_topic(proxy)
    producer = await started_producer(proxy)
    try:
        for body in (b"one", b"two", b"three"):
            await producer.send_and_wait(topic, body)
        brokers = producer.client.cluster.brokers()
    finally:
        await producer.stop()
    assert {(broker.host, broker.port) for broker in brokers} == {("127.0.0.1", proxy.port)}
    assert await consumed(proxy, topic, 3) == [b"one", b"two", b"three"]


async def test_latency_delays_an_acknowledged_send_by_a_round_trip(proxy: FaultProxy) -> None:
    topic = await new_topic(proxy)
    producer = await started_producer(proxy)
    loop = asyncio.get_running_loop()
    try:
        await producer.send_and_wait(topic, b"connected")
        proxy.latency_s, proxy.jitter_s = 0.2, 0.05
        started = loop.time()
        await producer.send_and_wait(topic, b"late")
        assert loop.time() - started >= 0.4  # the request there, the acknowledgement back
        assert await consumed(proxy, topic, 2) == [b"connected", b"late"]
    finally:
        proxy.latency_s, proxy.jitter_s = 0.0, 0.0
        await producer.stop()


async def test_a_send_during_a_cut_fails_or_waits_and_succeeds_after_restore(
    proxy: FaultProxy,
) -> None:
    topic = await new_topic(proxy)
    producer = await started_producer(proxy)
    resets_before = proxy.counters.resets
    try:
        await producer.send_and_wait(topic, b"before")
        await proxy.cut()
        during = asyncio.create_task(producer.send_and_wait(topic, b"during"))
        await asyncio.sleep(3.0)
        # Nothing reaches the broker while cut: the send has failed or is still waiting.
        assert not during.done() or during.exception() is not None
        assert proxy.counters.resets > resets_before  # the producer's connection was reset
        await proxy.restore()
        try:
            async with asyncio.timeout(60):
                await during
        except KafkaError:
            await producer.send_and_wait(topic, b"during")  # a failed send is sent again
        await producer.send_and_wait(topic, b"after")
    finally:
        await proxy.restore()
        await producer.stop()
    assert await consumed(proxy, topic, 3) == [b"before", b"during", b"after"]
