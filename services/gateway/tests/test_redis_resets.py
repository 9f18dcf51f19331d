"""The Redis broker while its connections keep being reset: a real Redis behind a fault proxy,
joins following and leaving rooms on the one pub/sub connection, commands on the pool.

Every failure must be a Redis failure (``RedisError``, ``OSError``, a join's own timeout):
those reach a client as ``unavailable``. Before the pub/sub connection had one owner and a pool
of its own, this load made redis-py raise ``RuntimeError: readuntil() called while another
coroutine is already waiting`` and ``AttributeError`` on pooled connections, which reached
clients as ``internal``.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from chat_common.redis_client import create_redis
from chat_gateway.frames import RoomFrame, to_payload
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.redis_broker import RedisBroker, channel_of
from chat_gateway.supervisor import TaskSupervisor
from chat_testing.fault_proxy import FaultProxy

_ROOMS = 100
_LOAD_S = 8.0


class _Received:
    """The broker's events handler: what arrived, per room."""

    def __init__(self) -> None:
        self.frames: dict[str, list[int]] = collections.defaultdict(list)
        self.resubscribed = 0

    def on_frame(self, room: str, frame: RoomFrame) -> None:
        self.frames[room].append(frame.seq)

    def on_event(self, room: str, payload: bytes) -> None:
        pass

    def on_control(self, channel: str, data: bytes) -> None:
        pass

    def on_person(self, user_id: str, data: bytes) -> None:
        pass

    def on_resubscribed(self) -> None:
        self.resubscribed += 1


class _Broker:
    def __init__(self, broker: RedisBroker, proxy: FaultProxy, metrics: GatewayMetrics) -> None:
        self.broker, self.proxy, self.metrics = broker, proxy, metrics
        self.received = _Received()

    def task_failures(self) -> float:
        return sum(
            sample.value
            for metric in self.metrics.task_failures.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )


@pytest_asyncio.fixture(loop_scope="session")
async def broker(redis_url_of_its_own: str) -> AsyncIterator[_Broker]:
    target = urlsplit(redis_url_of_its_own)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 6379, seed=7)
    await proxy.start()
    redis = create_redis(
        f"redis://127.0.0.1:{proxy.port}/0",
        client_name="resets",
        max_connections=30,
        pool_timeout_s=2,
    )
    metrics = GatewayMetrics()
    tasks = TaskSupervisor(metrics.task_failures)
    redis_broker = RedisBroker(
        redis,
        window_size=100,
        window_ttl_s=60,
        dedup_ttl_s=60,
        send_rate_per_s=10,
        send_burst=10,
        send_lock_s=15,
        control_channels=("control",),
        tasks=tasks,
        metrics=metrics,
    )
    under_test = _Broker(redis_broker, proxy, metrics)
    await redis_broker.start(under_test.received)
    try:
        yield under_test
    finally:
        await redis_broker.stop()
        await tasks.stop()
        await redis.aclose()
        await proxy.stop()


@pytest.mark.asyncio(loop_scope="session")
async def test_joins_and_commands_under_connection_resets_fail_only_as_redis_failures(
    broker: _Broker,
) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + _LOAD_S
    outcomes: collections.Counter[str] = collections.Counter()
    unexpected: list[BaseException] = []
    rooms = [f"resets-{n}-{random.getrandbits(32):x}" for n in range(_ROOMS)]

    def failed(exc: BaseException) -> None:
        if isinstance(exc, (RedisError, OSError)):  # TimeoutError is an OSError
            outcomes["redis failure"] += 1
        else:
            unexpected.append(exc)

    async def joins() -> None:
        while loop.time() < end:
            room = random.choice(rooms)
            try:
                async with asyncio.timeout(2):
                    await broker.broker.subscribe(room)
                outcomes["followed"] += 1
                await asyncio.sleep(random.random() * 0.05)
                await broker.broker.unsubscribe(room)
            except Exception as exc:
                failed(exc)

    async def commands() -> None:
        while loop.time() < end:
            try:
                await broker.broker.current_seq(random.choice(rooms))
                outcomes["answered"] += 1
            except Exception as exc:
                failed(exc)
            await asyncio.sleep(random.random() * 0.01)

    async def resets() -> None:
        while loop.time() < end:
            await asyncio.sleep(0.5)
            broker.proxy.drop_all()

    broker.proxy.drop_rate = 0.01
    try:
        await asyncio.gather(
            *(joins() for _ in range(40)), *(commands() for _ in range(40)), resets()
        )
    finally:
        broker.proxy.drop_rate = 0.0
    assert unexpected == [], repr(unexpected[:5])
    assert broker.task_failures() == 0
    assert broker.proxy.counters.resets > 0  # it was a fault
    assert outcomes["redis failure"] > 0
    assert outcomes["followed"] > 100
    assert outcomes["answered"] > 1000

    # Once the resets stop, a room followed now receives what is published in it.
    room = f"resets-after-{random.getrandbits(32):x}"
    await broker.broker.subscribe(room)
    publisher = create_redis(
        f"redis://127.0.0.1:{broker.proxy.port}/0",
        client_name="resets-publisher",
        max_connections=2,
        pool_timeout_s=2,
    )
    try:
        for seq in (1, 2):
            await publisher.publish(channel_of(room), to_payload(RoomFrame(seq, b"{}")))
        for _ in range(200):
            if broker.received.frames[room] == [1, 2]:
                break
            await asyncio.sleep(0.01)
        assert broker.received.frames[room] == [1, 2]
    finally:
        await publisher.aclose()


def test_a_write_to_a_reset_connection_under_uvloop_is_a_connection_error(
    redis_url_of_its_own: str,
) -> None:
    """uvloop's transport raises ``RuntimeError`` on a write after a reset (asyncio's does
    not): the client must still see a Redis failure, and retry it on a new connection."""

    async def write_after_a_reset() -> tuple[BaseException | None, object]:
        redis = create_redis(
            redis_url_of_its_own, client_name="reset-write", max_connections=1, pool_timeout_s=2
        )
        assert isinstance(redis, Redis)
        try:
            connection = await redis.connection_pool.get_connection()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            assert connection._writer is not None
            connection._writer.transport.abort()  # the peer reset it
            await asyncio.sleep(0)
            failure: BaseException | None = None
            try:
                await connection.send_command("PING")
            except Exception as exc:
                failure = exc
            await redis.connection_pool.release(connection)
            return failure, await redis.echo(b"after")  # retried on a new connection
        finally:
            await redis.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        failure, echoed = runner.run(write_after_a_reset())
    assert isinstance(failure, RedisConnectionError), repr(failure)
    assert echoed == b"after"
