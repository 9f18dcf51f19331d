"""The ``Broker`` contract, run against ``RedisBroker`` on a Redis of its own, on a 3-primary
Redis Cluster, and against the in-memory broker the unit tests use: what a unit test shows on
the one holds on the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sized

import msgspec
import pytest

from chat_common.envelope import Envelope
from chat_common.redis_client import create_redis
from chat_gateway.broker import Admission, Broker, EnvelopeDraft, SendAdmission
from chat_gateway.frames import RoomFrame, void_frame
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.redis_broker import RedisBroker, ReplicationError
from chat_gateway.room_events import ROOM_EVENTS_CHANNEL
from chat_gateway.supervisor import TaskSupervisor
from chat_testing.cluster import RedisClusterGroup
from memory_broker import MemoryBackend
from redis_traffic import envelope_of, frame_at

_WINDOW = 5
_RATE_PER_S = 2.0
_BURST = 3


class _Recorder:
    """A ``BrokerEvents`` that keeps what arrives."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, RoomFrame]] = []
        self.events: list[tuple[str, bytes]] = []
        self.controls: list[tuple[str, bytes]] = []
        self.persons: list[tuple[str, bytes]] = []
        self.resubscribed = 0

    def on_frame(self, room: str, frame: RoomFrame) -> None:
        self.frames.append((room, frame))

    def on_event(self, room: str, payload: bytes) -> None:
        self.events.append((room, payload))

    def on_control(self, channel: str, data: bytes) -> None:
        self.controls.append((channel, data))

    def on_person(self, user_id: str, data: bytes) -> None:
        self.persons.append((user_id, data))

    def on_resubscribed(self) -> None:
        self.resubscribed += 1

    async def until(self, arrived: Sized, n: int) -> None:
        async with asyncio.timeout(5):
            while len(arrived) < n:
                await asyncio.sleep(0.005)


@pytest.fixture(params=["redis", "cluster", "memory"])
async def broker(
    request: pytest.FixtureRequest, redis_url_of_its_own: str, redis_cluster: RedisClusterGroup
) -> AsyncIterator[Broker]:
    if request.param == "memory":
        yield MemoryBackend(
            window_size=_WINDOW, send_rate_per_s=_RATE_PER_S, send_burst=_BURST
        ).broker()
        return
    url = redis_url_of_its_own if request.param == "redis" else redis_cluster.url
    redis = create_redis(url, client_name="broker-contract", max_connections=8, pool_timeout_s=2)
    metrics = GatewayMetrics()
    tasks = TaskSupervisor(metrics.task_failures)
    try:
        yield RedisBroker(
            redis,
            window_size=_WINDOW,
            window_ttl_s=60,
            dedup_ttl_s=60,
            send_rate_per_s=_RATE_PER_S,
            send_burst=_BURST,
            send_lock_s=15,
            control_channels=(ROOM_EVENTS_CHANNEL,),
            tasks=tasks,
            metrics=metrics,
        )
    finally:
        await tasks.stop()
        await redis.aclose()


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"room-{suffix}", f"user-{suffix}"


async def test_a_send_is_new_then_done_with_its_envelope_once_published(broker: Broker) -> None:
    room, user = _names()
    assert (await broker.admit(user, "m1", "conn-1", room)).outcome is Admission.NEW
    envelope = envelope_of(room, user, 1, "m1")
    await broker.remember_pending(user, "m1", envelope)
    await broker.publish(
        frame_at(room, 1), room, user_id=user, client_msg_id="m1", envelope=envelope
    )
    again = await broker.admit(user, "m1", "conn-2", room)
    assert (again.outcome, again.envelope) == (Admission.DONE, envelope)


def _draft(room: str, user: str, client_msg_id: str) -> EnvelopeDraft:
    head, _, tail = envelope_of(room, user, -1, client_msg_id).partition(b'"seq":-1')
    return EnvelopeDraft(head + b'"seq":', tail)


async def _numbered(
    broker: Broker, user: str, client_msg_id: str, owner: str, room: str, draft: EnvelopeDraft
) -> SendAdmission:
    """A first attempt's admission and numbering, as the send path runs them: in the admission
    itself, or (on a Redis Cluster, where the room's counter and the sender's record are on two
    slots) in the steps after a ``new`` admission."""
    admission = await broker.admit(user, client_msg_id, owner, room, draft)
    if admission.outcome is not Admission.NEW or not await broker.has_seq(room):
        return admission
    seq = await broker.next_seq(room)
    assert seq is not None
    await broker.remember_pending(user, client_msg_id, draft.with_seq(seq))
    return SendAdmission(Admission.NUMBERED, draft.with_seq(seq), seq=seq)


async def test_a_send_with_a_draft_is_numbered_and_recorded_in_its_admission(
    broker: Broker,
) -> None:
    room, user = _names()
    await broker.seed_seq(room, 41)
    draft = _draft(room, user, "m1")
    numbered = await _numbered(broker, user, "m1", "conn-1", room, draft)
    assert (numbered.outcome, numbered.seq) == (Admission.NUMBERED, 42)
    assert numbered.envelope == draft.with_seq(42)
    assert msgspec.json.decode(numbered.envelope, type=Envelope).seq == 42
    assert await broker.current_seq(room) == 42
    # In flight until published; after a failed attempt, its retry re-sends that envelope.
    assert (await broker.admit(user, "m1", "conn-2", room, draft)).outcome is Admission.BUSY
    await broker.publish(void_frame(42), room, user_id=user, client_msg_id="m1")
    retry = await broker.admit(user, "m1", "conn-1", room, draft)
    assert (retry.outcome, retry.envelope) == (Admission.RETRY, numbered.envelope)
    assert await broker.current_seq(room) == 42  # a retry takes no new seq


async def test_a_send_with_a_draft_in_a_room_without_a_counter_is_new_and_records_nothing(
    broker: Broker,
) -> None:
    room, user = _names()
    first = await broker.admit(user, "m1", "conn-1", room, _draft(room, user, "m1"))
    assert (first.outcome, first.envelope, first.seq) == (Admission.NEW, b"", 0)
    assert not await broker.has_seq(room)  # seeding it is the sequencer's (G2)
    await broker.release(user, "m1")
    assert (await broker.admit(user, "m1", "conn-1", room)).outcome is Admission.NEW


async def test_a_send_in_flight_is_busy_until_released(broker: Broker) -> None:
    room, user = _names()
    assert (await broker.admit(user, "m1", "conn-1", room)).outcome is Admission.NEW
    assert (await broker.admit(user, "m1", "conn-2", room)).outcome is Admission.BUSY
    await broker.release(user, "m1")
    assert (await broker.admit(user, "m1", "conn-2", room)).outcome is Admission.NEW


async def test_the_owner_of_a_lock_left_by_a_lost_answer_is_admitted_again(
    broker: Broker,
) -> None:
    room, user = _names()
    await broker.seed_seq(room, 9)
    draft = _draft(room, user, "m1")
    # The answer to this admission was lost with the connection: the lock and the pending
    # record stay, and the same session runs the admission again.
    lost = await _numbered(broker, user, "m1", "conn-1", room, draft)
    assert (lost.outcome, lost.seq) == (Admission.NUMBERED, 10)
    again = await broker.admit(user, "m1", "conn-1", room, draft)
    assert (again.outcome, again.envelope) == (Admission.RETRY, lost.envelope)  # same seq
    assert await broker.current_seq(room) == 10
    assert (await broker.admit(user, "m1", "conn-2", room, draft)).outcome is Admission.BUSY


async def test_a_send_that_failed_is_retried_with_the_envelope_it_recorded(broker: Broker) -> None:
    room, user = _names()
    await broker.admit(user, "m1", "conn-1", room)
    envelope = envelope_of(room, user, 7, "m1")
    await broker.remember_pending(user, "m1", envelope)
    await broker.publish(void_frame(7), room, user_id=user, client_msg_id="m1")  # a failed send
    retry = await broker.admit(user, "m1", "conn-1", room)
    assert (retry.outcome, retry.envelope) == (Admission.RETRY, envelope)


async def test_a_client_msg_id_belongs_to_the_room_of_its_first_message(broker: Broker) -> None:
    room, user = _names()
    await broker.admit(user, "m1", "conn-1", room)
    await broker.remember_pending(user, "m1", envelope_of(room, user, 1, "m1"))
    assert (await broker.admit(user, "m1", "conn-1", "elsewhere")).outcome is Admission.CONFLICT


async def test_sends_past_the_burst_are_limited_with_a_wait(broker: Broker) -> None:
    room, user = _names()
    outcomes = [(await broker.admit(user, f"m{i}", "conn", room)) for i in range(_BURST + 1)]
    assert [a.outcome for a in outcomes] == [Admission.NEW] * _BURST + [Admission.LIMITED]
    assert 0 < outcomes[-1].retry_after_ms <= 1000 / _RATE_PER_S + 1
    # A limited send holds no lock: the same id is admitted once the bucket refills.
    await asyncio.sleep(outcomes[-1].retry_after_ms / 1000 + 0.01)
    assert (await broker.admit(user, f"m{_BURST}", "conn", room)).outcome is Admission.NEW


async def test_a_lost_counter_is_none_until_seeded_and_a_seed_never_lowers_it(
    broker: Broker,
) -> None:
    room, _ = _names()
    assert await broker.next_seq(room) is None
    assert not await broker.has_seq(room)
    assert await broker.current_seq(room) == 0
    await broker.seed_seq(room, 41)
    await broker.seed_seq(room, 3)  # another gateway, seeding late from an older read
    assert await broker.has_seq(room)
    assert [await broker.next_seq(room), await broker.next_seq(room)] == [42, 43]
    assert await broker.current_seqs([room, f"{room}-none"]) == [43, 0]


async def test_the_window_keeps_the_newest_frames_and_a_message_wins_over_its_void(
    broker: Broker,
) -> None:
    room, _ = _names()
    for seq in range(1, 8):
        await broker.publish(void_frame(seq) if seq == 6 else frame_at(room, seq), room)
    window = await broker.window(room, 0)
    assert [frame.seq for frame in window] == [3, 4, 5, 6, 7]
    assert window[3].is_void
    await broker.publish(frame_at(room, 6), room)  # the retry of the failed send of seq 6
    assert not any(frame.is_void for frame in await broker.window(room, 0))
    assert [frame.seq for frame in await broker.window(room, 3, 5)] == [4, 5]


async def test_frames_arrive_in_order_from_subscribe_to_unsubscribe(broker: Broker) -> None:
    room, _ = _names()
    events = _Recorder()
    await broker.start(events)
    try:
        await broker.publish(frame_at(room, 1), room)  # before the subscription: not delivered
        await broker.subscribe(room)
        assert broker.healthy
        for seq in (2, 3, 4):
            await broker.publish(frame_at(room, seq), room)
        await events.until(events.frames, 3)
        await broker.unsubscribe(room)
        await broker.publish(frame_at(room, 5), room)
        await broker.subscribe(f"{room}-other")  # a round trip: anything in flight is here
        await broker.publish(frame_at(f"{room}-other", 1), f"{room}-other")
        await events.until(events.frames, 4)
    finally:
        await broker.stop()
    assert [(r, f.seq) for r, f in events.frames] == [
        (room, 2),
        (room, 3),
        (room, 4),
        (f"{room}-other", 1),
    ]
    assert events.resubscribed == 0


async def test_ephemeral_events_reach_subscribers_and_typing_is_throttled(
    broker: Broker,
) -> None:
    room, user = _names()
    events = _Recorder()
    await broker.start(events)
    try:
        await broker.subscribe(room)
        assert await broker.typing(room, user, "Ada")
        assert not await broker.typing(room, user, "Ada")  # within the interval
        assert await broker.typing(f"{room}-other", user, "Ada")  # another room: its own
        await broker.announce(room, {"type": "presence", "room": room})
        await events.until(events.events, 2)
    finally:
        await broker.stop()
    assert [msgspec.json.decode(payload)["type"] for _, payload in events.events] == [
        "typing",
        "presence",
    ]
    assert {r for r, _ in events.events} == {room}


async def test_control_messages_reach_the_handler_on_its_channels_only(broker: Broker) -> None:
    events = _Recorder()
    await broker.start(events)
    try:
        await broker.subscribe(_names()[0])  # the subscription is up
        await broker.publish_control("chat:not-a-control-channel", b"{}")
        await broker.publish_control(ROOM_EVENTS_CHANNEL, b'{"room":"r","action":"room"}')
        await events.until(events.controls, 1)
    finally:
        await broker.stop()
    assert events.controls == [(ROOM_EVENTS_CHANNEL, b'{"room":"r","action":"room"}')]


async def test_a_person_s_messages_arrive_from_subscribe_to_unsubscribe_and_only_theirs(
    broker: Broker,
) -> None:
    _, ada = _names()
    bob = f"{ada}-bob"
    events = _Recorder()
    await broker.start(events)
    try:
        await broker.tell_person(ada, b"before")  # nobody follows ada yet: gone
        await broker.subscribe_person(ada)
        await broker.subscribe_person(ada)  # a second connection of hers: still one
        await broker.tell_person(ada, b"one")
        await broker.tell_person(bob, b"not followed")
        await broker.tell_person(ada, b"two")
        await events.until(events.persons, 2)
        await broker.unsubscribe_person(ada)
        await broker.tell_person(ada, b"after")
        await broker.subscribe_person(bob)  # a round trip: anything in flight is here
        await broker.tell_person(bob, b"three")
        await events.until(events.persons, 3)
        # Rooms and people are apart: a room named like a person's id hears none of theirs.
        await broker.subscribe(bob)
        await broker.tell_person(bob, b"four")
        await events.until(events.persons, 4)
    finally:
        await broker.stop()
    assert events.persons == [(ada, b"one"), (ada, b"two"), (bob, b"three"), (bob, b"four")]
    assert events.frames == []
    assert events.events == []


async def test_a_seq_no_replica_holds_in_time_is_refused_and_kept_for_the_retry(
    redis_url_of_its_own: str,
) -> None:
    """With replicas to wait for (behind Sentinel) and none there, numbering fails as a Redis
    failure (the client's ``unavailable``), and what it wrote stays: the retry, once a replica
    holds it, sends the same envelope with the same seq."""
    redis = create_redis(
        redis_url_of_its_own, client_name="replicas", max_connections=4, pool_timeout_s=2
    )
    metrics = GatewayMetrics()
    tasks = TaskSupervisor(metrics.task_failures)

    def broker(replicas: int) -> RedisBroker:
        return RedisBroker(
            redis,
            window_size=_WINDOW,
            window_ttl_s=60,
            dedup_ttl_s=60,
            send_rate_per_s=_RATE_PER_S,
            send_burst=_BURST,
            send_lock_s=15,
            control_channels=(ROOM_EVENTS_CHANNEL,),
            tasks=tasks,
            metrics=metrics,
            replicas=replicas,
            replica_wait_ms=50,
        )

    waiting, replicated = broker(1), broker(0)  # replicated: as if a replica had caught up
    room, user = _names()
    draft = _draft(room, user, "m1")
    try:
        await redis.set(f"seq:{room}", 4)
        with pytest.raises(ReplicationError):
            await waiting.admit(user, "m1", "conn-1", room, draft)
        with pytest.raises(ReplicationError):
            await waiting.next_seq(room)
        assert await waiting.current_seq(room) == 6  # taken, never handed out
        retry = await replicated.admit(user, "m1", "conn-1", room, draft)
        assert (retry.outcome, retry.envelope) == (Admission.RETRY, draft.with_seq(5))
        replication_failures = metrics.registry.get_sample_value(
            "chat_gateway_redis_errors_total", {"op": "replicate"}
        )
        assert replication_failures == 2
    finally:
        await tasks.stop()
        await redis.aclose()
