"""The message log replaces a producer whose idempotent session the broker lost.

After a Kafka broker restart, aiokafka's idempotent producer can get ``OutOfOrderSequenceNumber``
for every send, forever (the "Kafka stopped" fault of tests/chaos found it: every send refused
until the gateway restarted). These tests drive ``MessageLog`` with producers that fail as
asked; the real broker case is tests/chaos/test_faults.py's "Kafka stopped".
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, OutOfOrderSequenceNumber

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.message_log import MessageLog


class Producer:
    """A producer whose sends fail with ``failure`` (None: they succeed)."""

    def __init__(self, failure: KafkaError | None = None, *, starts: bool = True) -> None:
        self.failure = failure
        self.starts = starts
        self.sent: list[bytes] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        if not self.starts:
            raise KafkaConnectionError("no broker")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        self.sent.append(value)


class Factory:
    def __init__(self, *producers: Producer) -> None:
        self.queue = list(producers)
        self.made: list[Producer] = []

    def __call__(self) -> AIOKafkaProducer:
        self.made.append(self.queue.pop(0))
        return cast(AIOKafkaProducer, self.made[-1])


async def _log(factory: Factory) -> tuple[MessageLog, list[int]]:
    renewals: list[int] = []
    log = MessageLog(factory, "chat.messages", limit_s=1.0, renewed=lambda: renewals.append(1))
    await log.start()
    return log, renewals


async def _refused(log: MessageLog) -> ChatError:
    with pytest.raises(ChatError) as refused:
        await log.append("north", b"{}")
    return refused.value


async def test_a_lost_session_is_refused_and_the_next_send_uses_a_new_producer() -> None:
    broken, fresh = Producer(OutOfOrderSequenceNumber()), Producer()
    log, renewals = await _log(Factory(broken, fresh))
    assert (await _refused(log)).code is ErrorCode.UNAVAILABLE
    await log.append("north", b"again")
    assert fresh.sent == [b"again"]
    assert fresh.started
    await asyncio.sleep(0)  # the broken one is stopped in the background
    assert broken.stopped
    assert renewals == [1]


async def test_many_sends_that_find_it_broken_renew_it_once() -> None:
    broken, fresh, spare = Producer(OutOfOrderSequenceNumber()), Producer(), Producer()
    factory = Factory(broken, fresh, spare)
    log, renewals = await _log(factory)
    outcomes = await asyncio.gather(
        *(log.append("north", b"{}") for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(o, ChatError) for o in outcomes)
    assert renewals == [1]
    assert factory.made == [broken, fresh]


async def test_an_unreachable_broker_keeps_its_producer() -> None:
    down = Producer(KafkaConnectionError("down"))
    factory: Any = Factory(down)
    log, renewals = await _log(factory)
    assert (await _refused(log)).code is ErrorCode.UNAVAILABLE
    assert renewals == []
    assert factory.made == [down]
    assert not down.stopped


async def test_a_renewal_that_cannot_start_keeps_the_old_one_and_is_tried_again() -> None:
    broken = Producer(OutOfOrderSequenceNumber())
    unstartable, fresh = Producer(starts=False), Producer()
    log, renewals = await _log(Factory(broken, unstartable, fresh))
    await _refused(log)
    assert renewals == []
    assert unstartable.stopped
    assert not broken.stopped
    await _refused(log)  # still the broken one; this time the renewal works
    await log.append("north", b"now")
    assert fresh.sent == [b"now"]
    assert renewals == [1]
    await log.close()
    assert fresh.stopped
    assert broken.stopped
