"""The fault proxy carries a real Redis's and a real echo server's traffic unchanged and in order,
and its faults do what failure tests rely on: delays, resets that clients see, outages that
refuse connections until restored."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from chat_testing.fault_proxy import CHUNK_BYTES, DeliverySchedule, FaultProxy
from chat_testing.ports import free_port
from chat_testing.processes import redis_server


@pytest_asyncio.fixture
async def redis_port(tmp_path: Path) -> AsyncIterator[int]:
    port = free_port()
    server = redis_server(port, tmp_path)
    await server.start()
    try:
        yield port
    finally:
        await server.kill()


@pytest_asyncio.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionResetError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest_asyncio.fixture
async def redis_proxy(redis_port: int) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", redis_port, seed=7)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest_asyncio.fixture
async def echo_proxy(echo_port: int) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", echo_port, seed=7)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


def client_of(proxy: FaultProxy) -> redis.Redis:
    # No retries: a test must see each connection error itself, not have it retried away.
    return redis.Redis(port=proxy.port, retry=Retry(NoBackoff(), 0), decode_responses=True)


async def round_trip(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    assert await reader.readexactly(len(data)) == data
    return reader, writer


async def test_redis_commands_work_through_the_proxy(redis_proxy: FaultProxy) -> None:
    client = client_of(redis_proxy)
    try:
        assert await client.set("room", "lobby")
        assert await client.get("room") == "lobby"
    finally:
        await client.aclose()
    assert redis_proxy.counters.accepted == 1
    assert redis_proxy.counters.bytes_to_target > 0
    assert redis_proxy.counters.bytes_to_client > 0


async def test_counters_count_connections_and_the_bytes_of_each_way(
    echo_proxy: FaultProxy,
) -> None:
    _, first = await round_trip(echo_proxy.port, b"a" * 1000)
    _, second = await round_trip(echo_proxy.port, b"b" * 300)
    assert echo_proxy.counters.accepted == 2
    assert echo_proxy.counters.bytes_to_target == 1300
    assert echo_proxy.counters.bytes_to_client == 1300
    assert echo_proxy.counters.resets == 0
    assert echo_proxy.drop_all() == 2
    assert echo_proxy.drop_all() == 0  # each connection is reset and counted once
    assert echo_proxy.counters.resets == 2
    first.close()
    second.close()


async def test_a_pipeline_under_latency_and_jitter_returns_every_reply_in_order(
    redis_proxy: FaultProxy,
) -> None:
    # Thousands of commands go out and come back in dozens of chunks each way; jitter larger
    # than the latency would reorder them if chunks could overtake each other, and a reordered
    # byte stream is a broken RESP stream or replies matched to the wrong commands.
    redis_proxy.latency_s = 0.01
    redis_proxy.jitter_s = 0.05
    count = 5000
    client = client_of(redis_proxy)
    try:
        pipeline = client.pipeline(transaction=False)
        for i in range(count):
            pipeline.echo(f"{i:06d}-" + "x" * 100)
            pipeline.incr("sent")
        replies = await pipeline.execute()
    finally:
        await client.aclose()
    assert replies[0::2] == [f"{i:06d}-" + "x" * 100 for i in range(count)]
    assert replies[1::2] == list(range(1, count + 1))
    assert redis_proxy.counters.bytes_to_client > 4 * CHUNK_BYTES  # many chunks, not one


async def test_latency_delays_each_direction_at_least_the_set_value_and_can_be_undone(
    echo_proxy: FaultProxy,
) -> None:
    reader, writer = await round_trip(echo_proxy.port, b"warm")
    loop = asyncio.get_running_loop()
    echo_proxy.latency_s = 0.2
    started = loop.time()
    writer.write(b"late")
    assert await reader.readexactly(4) == b"late"
    assert loop.time() - started >= 0.4  # there and back
    echo_proxy.latency_s = 0.0
    writer.write(b"prompt")
    assert await reader.readexactly(6) == b"prompt"
    writer.close()


async def test_a_cut_refuses_connections_and_restore_brings_them_back(
    redis_proxy: FaultProxy,
) -> None:
    client = client_of(redis_proxy)
    try:
        assert await client.ping()
        await redis_proxy.cut()
        with pytest.raises(RedisConnectionError):
            await client.ping()  # its open connection was reset
        with pytest.raises(RedisConnectionError):
            await client.ping()  # and a new one is refused
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", redis_proxy.port)
        with socket.socket() as stranger, pytest.raises(OSError, match="Address already in use"):
            stranger.bind(("127.0.0.1", redis_proxy.port))  # the address stays the proxy's
        await redis_proxy.restore()
        assert await client.ping()
    finally:
        await client.aclose()
    assert redis_proxy.counters.resets == 1


async def test_drop_all_resets_the_open_connection_and_a_new_one_works(
    redis_proxy: FaultProxy,
) -> None:
    client = client_of(redis_proxy)
    try:
        assert await client.set("kept", "yes")
        assert redis_proxy.drop_all() == 1
        with pytest.raises(RedisConnectionError):
            await client.get("kept")
        assert await client.get("kept") == "yes"  # on a new connection
    finally:
        await client.aclose()
    assert redis_proxy.counters.accepted == 2
    assert redis_proxy.counters.resets == 1


async def test_a_reset_reaches_the_client_as_rst_not_as_a_clean_end(
    echo_proxy: FaultProxy,
) -> None:
    reader, writer = await round_trip(echo_proxy.port, b"hello")
    echo_proxy.drop_all()
    with pytest.raises(ConnectionResetError):
        await reader.read(1)
    writer.close()


async def test_drop_rate_one_resets_each_connection_at_its_first_chunk_and_zero_undoes_it(
    redis_proxy: FaultProxy,
) -> None:
    client = client_of(redis_proxy)
    try:
        redis_proxy.drop_rate = 1.0
        for _ in range(3):
            with pytest.raises(RedisConnectionError):
                await client.ping()
        redis_proxy.drop_rate = 0.0
        assert await client.ping()
    finally:
        await client.aclose()
    assert redis_proxy.counters.resets == 3


async def test_a_target_that_is_down_resets_the_client_instead_of_leaving_it_hanging() -> None:
    proxy = FaultProxy("127.0.0.1", free_port())
    await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"PING\r\n")
        with pytest.raises(ConnectionResetError):
            await reader.read(1)
        writer.close()
    finally:
        await proxy.stop()
    assert proxy.counters.resets == 0  # not a fault the test asked for


async def test_fault_values_out_of_range_are_refused_and_change_nothing() -> None:
    proxy = FaultProxy("127.0.0.1", 1)
    with pytest.raises(ValueError, match="latency_s"):
        proxy.latency_s = -0.1
    with pytest.raises(ValueError, match="jitter_s"):
        proxy.jitter_s = -1.0
    with pytest.raises(ValueError, match="drop_rate"):
        proxy.drop_rate = 1.5
    assert (proxy.latency_s, proxy.jitter_s, proxy.drop_rate) == (0.0, 0.0, 0.0)
    with pytest.raises(RuntimeError, match="not started"):
        _ = proxy.port


def test_chunks_in_flight_overlap_their_delays_instead_of_queueing_one_per_latency() -> None:
    schedule = DeliverySchedule()
    assert [schedule.due(arrived, 1.0) for arrived in (0.0, 0.001, 0.002)] == [1.0, 1.001, 1.002]


def test_jitter_delays_a_chunk_but_never_lets_it_overtake_the_one_ahead() -> None:
    schedule = DeliverySchedule()
    assert schedule.due(0.0, 1.5) == 1.5
    assert schedule.due(0.01, 1.0) == 1.5  # would be 1.01, before the chunk ahead
    assert schedule.due(0.9, 1.0) == 1.9
