"""The fan-out on the in-memory broker: each followed room delivered once per seq, in order,
whatever order the broker hands frames over or loses them in (G2, G3)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from chat_gateway.fanout import RoomFanout
from chat_gateway.frames import RoomFrame, void_frame
from chat_gateway.history import MessageHistory
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.supervisor import TaskSupervisor
from fakes import MemoryStore
from memory_broker import MemoryBackend, MemoryBroker
from memory_gateway import eventually

ROOM = "lobby"


def _frame(seq: int) -> RoomFrame:
    return RoomFrame(seq, b'{"type":"message","message":{"seq":%d}}' % seq)


class _Gateway:
    """A fan-out and what it handed on."""

    def __init__(
        self,
        backend: MemoryBackend,
        store: MemoryStore,
        hole_deadline_s: float,
        batch_s: float = 0.0,
    ) -> None:
        self.broker: MemoryBroker = backend.broker()
        self.metrics = GatewayMetrics()
        self.tasks = TaskSupervisor(self.metrics.task_failures)
        self.delivered: list[tuple[str, int]] = []
        self.broadcasts: list[tuple[str, bytes]] = []
        # What was handed on, in order: a run of seqs, or an event's payload.
        self.handed: list[tuple[int, ...] | bytes] = []
        self.controls: list[tuple[str, bytes]] = []
        self.persons: list[tuple[str, bytes]] = []
        self.fanout = RoomFanout(
            self.broker,
            MessageHistory(self.broker, store),
            self._deliver,
            self._broadcast,
            self.metrics,
            self.tasks,
            on_control=lambda channel, data: self.controls.append((channel, data)),
            on_person=lambda user_id, data: self.persons.append((user_id, data)),
            hole_retry_s=0.01,
            hole_deadline_s=hole_deadline_s,
            batch_s=batch_s,
        )

    def _deliver(self, room: str, frames: list[RoomFrame]) -> None:
        self.delivered.extend((room, frame.seq) for frame in frames)
        self.handed.append(tuple(frame.seq for frame in frames))

    def _broadcast(self, room: str, payload: bytes) -> None:
        self.broadcasts.append((room, payload))
        self.handed.append(payload)

    def seqs(self, room: str = ROOM) -> list[int]:
        return [seq for r, seq in self.delivered if r == room]

    async def until_delivered(self, count: int, room: str = ROOM) -> list[int]:
        await eventually(lambda: True if len(self.seqs(room)) >= count else None)
        return self.seqs(room)

    def count(self, metric: str) -> float | None:
        return self.metrics.registry.get_sample_value(metric)


@contextlib.asynccontextmanager
async def _gateway(
    backend: MemoryBackend | None = None,
    store: MemoryStore | None = None,
    hole_deadline_s: float = 0.3,
    batch_s: float = 0.0,
) -> AsyncIterator[_Gateway]:
    gateway = _Gateway(backend or MemoryBackend(), store or MemoryStore(), hole_deadline_s, batch_s)
    await gateway.fanout.start()
    try:
        yield gateway
    finally:
        await gateway.fanout.stop()
        await gateway.tasks.stop()


async def test_a_room_is_delivered_from_after_its_counter_in_seq_order() -> None:
    backend, store = MemoryBackend(), MemoryStore()
    publisher = backend.broker()
    for seq in range(1, 6):
        store.store(ROOM, _frame(seq))  # stored long ago, gone from the window
    await publisher.seed_seq(ROOM, 5)
    async with _gateway(backend, store) as gateway:
        assert await gateway.fanout.follow(ROOM) == 5
        for seq in (6, 7):
            await publisher.publish(_frame(seq), ROOM)
        assert await gateway.until_delivered(2) == [6, 7]


async def test_a_new_subscription_waits_for_a_seq_in_flight_below_the_counter() -> None:
    backend = MemoryBackend()
    publisher = backend.broker()
    async with _gateway(backend, hole_deadline_s=30) as gateway:
        for seq in (1, 2, 3, 5):  # 4 is taken, its Kafka write not done
            await publisher.publish(_frame(seq), ROOM)
        await publisher.seed_seq(ROOM, 5)
        assert await gateway.fanout.follow(ROOM) == 3
        await publisher.publish(_frame(4), ROOM)
        assert await gateway.until_delivered(2) == [4, 5]
        assert gateway.count("chat_gateway_seq_given_up_total") == 0


async def test_a_new_subscription_whose_store_is_away_trusts_what_is_older_than_the_window() -> (
    None
):
    backend, store = MemoryBackend(window_size=2), MemoryStore()
    publisher = backend.broker()
    for seq in (1, 2, 3):
        await publisher.publish(_frame(seq), ROOM)
    await publisher.seed_seq(ROOM, 3)
    store.failing = True
    async with _gateway(backend, store) as gateway:
        assert await gateway.fanout.follow(ROOM) == 3
        await publisher.publish(_frame(4), ROOM)
        assert await gateway.until_delivered(1) == [4]


async def test_frames_handed_over_out_of_order_or_twice_leave_once_in_order() -> None:
    async with _gateway() as gateway:
        await gateway.fanout.follow(ROOM)
        gateway.broker.hold_live()
        for seq in (1, 2, 3):
            await gateway.broker.publish(_frame(seq), ROOM)
        gateway.broker.release_held([2, 1, 1, 0, 2])
        assert await gateway.until_delivered(3) == [1, 2, 3]
        await asyncio.sleep(0.05)
        assert gateway.seqs() == [1, 2, 3]


async def test_frames_ready_in_one_loop_turn_are_handed_on_as_one_run() -> None:
    async with _gateway() as gateway:
        await gateway.fanout.follow(ROOM)
        gateway.broker.hold_live()
        for seq in (1, 2, 3):
            await gateway.broker.publish(_frame(seq), ROOM)
        gateway.broker.release_held()  # three frames arrive at once, as after a busy moment
        assert gateway.handed == []  # handed on when the turn ends, not frame by frame
        assert await gateway.until_delivered(3) == [1, 2, 3]
        assert gateway.handed == [(1, 2, 3)]
        await gateway.broker.publish(_frame(4), ROOM)
        assert await gateway.until_delivered(4) == [1, 2, 3, 4]
        assert gateway.handed == [(1, 2, 3), (4,)]


async def test_an_event_or_control_message_never_overtakes_a_ready_frame() -> None:
    async with _gateway() as gateway:
        await gateway.fanout.follow(ROOM)
        gateway.broker.hold_live()
        await gateway.broker.publish(_frame(1), ROOM)
        gateway.broker.release_held()
        gateway.fanout.on_event(ROOM, b"typing")  # arrives in the same turn, after the frame
        assert gateway.handed == [(1,), b"typing"]
        gateway.broker.hold_live()
        await gateway.broker.publish(_frame(2), ROOM)
        gateway.broker.release_held()
        gateway.fanout.on_control("control", b"kick")
        assert gateway.handed == [(1,), b"typing", (2,)]
        assert gateway.controls == [("control", b"kick")]


async def test_a_batch_window_gathers_frames_that_arrive_apart() -> None:
    backend = MemoryBackend()
    async with _gateway(backend, batch_s=0.2) as gateway:
        await gateway.fanout.follow(ROOM)
        await gateway.broker.publish(_frame(1), ROOM)
        await asyncio.sleep(0.02)  # a later loop turn, well inside the window
        await gateway.broker.publish(_frame(2), ROOM)
        assert await gateway.until_delivered(2) == [1, 2]
        assert gateway.handed == [(1, 2)]


async def test_a_frame_lost_live_is_read_from_the_window() -> None:
    async with _gateway(hole_deadline_s=10) as gateway:  # found well before any deadline
        await gateway.fanout.follow(ROOM)
        gateway.broker.drop_live(ROOM)
        for seq in (1, 2):
            await gateway.broker.publish(_frame(seq), ROOM)
        assert await gateway.until_delivered(2) == [1, 2]
        assert gateway.count("chat_gateway_seq_holes_total") == 1


async def test_a_frame_gone_from_the_window_is_read_from_the_store() -> None:
    store = MemoryStore()
    async with _gateway(MemoryBackend(window_size=1), store) as gateway:
        await gateway.fanout.follow(ROOM)
        gateway.broker.drop_live(ROOM)
        store.store(ROOM, _frame(1))  # persisted, and pushed out of the window by seq 2
        for seq in (1, 2):
            await gateway.broker.publish(_frame(seq), ROOM)
        assert await gateway.until_delivered(2) == [1, 2]
        assert gateway.count("chat_gateway_seq_given_up_total") == 0


async def test_a_seq_that_never_comes_is_given_up_and_still_delivered_if_it_comes_late() -> None:
    async with _gateway() as gateway:
        await gateway.fanout.follow(ROOM)
        await gateway.broker.publish(_frame(2), ROOM)
        assert await gateway.until_delivered(1) == [2]
        assert gateway.count("chat_gateway_seq_given_up_total") == 1
        await gateway.broker.publish(_frame(1), ROOM)
        assert await gateway.until_delivered(2) == [2, 1]


async def test_a_voided_seq_is_not_waited_for() -> None:
    async with _gateway(hole_deadline_s=10) as gateway:  # waiting for it would time out
        await gateway.fanout.follow(ROOM)
        await gateway.broker.publish(void_frame(1), ROOM)
        await gateway.broker.publish(_frame(2), ROOM)
        assert await gateway.until_delivered(1) == [2]


async def test_after_a_lost_subscription_the_missed_frames_are_read_once_in_order() -> None:
    async with _gateway(hole_deadline_s=10) as gateway:
        await gateway.fanout.follow(ROOM)
        await gateway.broker.publish(_frame(1), ROOM)
        assert await gateway.until_delivered(1) == [1]
        gateway.broker.lose_connection()
        assert not gateway.fanout.healthy
        for seq in (2, 3):
            await gateway.broker.publish(_frame(seq), ROOM)
        gateway.broker.reconnect()
        assert await gateway.until_delivered(3) == [1, 2, 3]
        await gateway.broker.publish(_frame(4), ROOM)
        assert await gateway.until_delivered(4) == [1, 2, 3, 4]
        assert gateway.fanout.healthy


async def test_a_follow_waits_while_the_subscription_is_down() -> None:
    async with _gateway() as gateway:
        gateway.broker.lose_connection()
        follow = asyncio.create_task(gateway.fanout.follow(ROOM))
        await asyncio.sleep(0.02)
        assert not follow.done()
        gateway.broker.reconnect()
        assert await asyncio.wait_for(follow, 1) == 0


async def test_an_unfollowed_room_is_unsubscribed_and_no_longer_delivered() -> None:
    async with _gateway() as gateway:
        await gateway.fanout.follow(ROOM)
        await gateway.fanout.unfollow(ROOM)
        assert gateway.broker.subscribed == set()
        await gateway.broker.publish(_frame(1), ROOM)
        await gateway.broker.announce(ROOM, {"type": "typing"})
        await asyncio.sleep(0.02)
        assert (gateway.delivered, gateway.broadcasts) == ([], [])
        assert await gateway.fanout.follow(ROOM) == 1  # again: after what is there now


async def test_ephemeral_events_and_control_messages_are_passed_on() -> None:
    async with _gateway() as gateway:
        await gateway.fanout.follow(ROOM)
        await gateway.broker.announce(ROOM, {"type": "typing"})
        await gateway.broker.announce("elsewhere", {"type": "typing"})
        await gateway.broker.publish_control("chat:room-events", b"{}")
        await eventually(lambda: gateway.controls or None)
        assert gateway.broadcasts == [(ROOM, b'{"type":"typing"}')]
        assert gateway.controls == [("chat:room-events", b"{}")]
