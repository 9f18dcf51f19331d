"""Fan-out: delivers each room this gateway follows to its local members, in seq order (G2).

The broker hands over what it receives (``BrokerEvents``); every frame of a room passes through
the room's ``RoomOrder``. Live delivery is at most once, so an early frame waits while the hole
before it is read from the recent window and then Postgres, and after the broker lost its
connection every room reads what it missed through the same ordering (G3).

Frames ready for delivery are handed to the hub a room's run at a time: those that became ready
in one event-loop turn (or within ``batch_s``, when set) go out together, so a member gets them
in one write instead of one each. A gateway that keeps up delivers each frame alone, one turn
later; one that falls behind reads many frames from the broker at once and its cost per frame
falls with it. Events and control messages flush the runs first, so nothing overtakes a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from chat_gateway.broker import Broker
from chat_gateway.frames import RoomFrame
from chat_gateway.history import MessageHistory
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.ordering import RoomOrder
from chat_gateway.sending import DEPENDENCY_ERRORS
from chat_gateway.supervisor import TaskSupervisor

Deliver = Callable[[str, list[RoomFrame]], None]
Broadcast = Callable[[str, bytes], None]
Control = Callable[[str, bytes], None]

# Seqs below a new subscription's counter that may be in flight at that moment: a message
# takes its seq, then a Kafka round trip, then is published.
_IN_FLIGHT_GUESS = 64
# A room's catch-up after a reconnect reads at most this many messages: bounded like every
# read, and far more than a reconnect of a few seconds misses in the busiest room.
_RESYNC_LIMIT = 10_000


class _FollowedRoom:
    __slots__ = ("early", "filler", "order")

    def __init__(self) -> None:
        self.order: RoomOrder | None = None
        self.early: list[RoomFrame] = []  # arrived before the starting point was known
        self.filler: asyncio.Task[None] | None = None


class RoomFanout:
    def __init__(
        self,
        broker: Broker,
        history: MessageHistory,
        deliver: Deliver,
        broadcast: Broadcast,
        metrics: GatewayMetrics,
        tasks: TaskSupervisor,
        *,
        on_control: Control,
        on_person: Control,
        hole_retry_s: float,
        hole_deadline_s: float,
        batch_s: float = 0.0,
    ) -> None:
        self._broker = broker
        self._history = history
        self._deliver = deliver
        self._broadcast = broadcast
        self._metrics = metrics
        self._tasks = tasks
        self._on_control = on_control
        self._on_person = on_person
        self._hole_retry_s = hole_retry_s
        self._hole_deadline_s = hole_deadline_s
        self._batch_s = batch_s
        self._rooms: dict[str, _FollowedRoom] = {}
        self._ready: dict[str, list[RoomFrame]] = {}
        self._flush_at: asyncio.Handle | None = None
        self._resync: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        return self._broker.healthy

    async def start(self) -> None:
        await self._broker.start(self)

    async def stop(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        self._ready.clear()
        tasks = [self._resync, *(room.filler for room in self._rooms.values())]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._broker.stop()

    async def follow(self, room: str) -> int:
        """Subscribe (once per gateway) and return the seq this gateway delivers after."""
        followed = self._rooms.get(room)
        if followed is None:
            followed = self._rooms[room] = _FollowedRoom()
        await self._broker.subscribe(room)
        if followed.order is None:
            await self._start_order(room, followed)
        assert followed.order is not None
        return followed.order.last

    async def unfollow(self, room: str) -> None:
        followed = self._rooms.pop(room, None)
        if followed is None:
            return
        if followed.filler is not None:
            followed.filler.cancel()
        await self._broker.unsubscribe(room)

    # -- BrokerEvents ---------------------------------------------------------------------------

    def on_frame(self, room: str, frame: RoomFrame) -> None:
        followed = self._rooms.get(room)
        if followed is not None:
            self._accept(room, followed, frame)

    def on_event(self, room: str, payload: bytes) -> None:
        self.flush()
        if room in self._rooms:
            self._broadcast(room, payload)

    def on_control(self, channel: str, data: bytes) -> None:
        self.flush()
        self._on_control(channel, data)

    def on_person(self, user_id: str, data: bytes) -> None:
        self.flush()
        self._on_person(user_id, data)

    def on_resubscribed(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
        self._resync = self._tasks.spawn("fanout-resync", self._catch_up_after_reconnect)

    # -- runs of ready frames -------------------------------------------------------------------

    def flush(self) -> None:
        """Deliver every ready frame now."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if self._ready:
            ready, self._ready = self._ready, {}
            for room, frames in ready.items():
                self._deliver(room, frames)

    def _ready_to_deliver(self, room: str, frames: list[RoomFrame]) -> None:
        if not frames:
            return
        run = self._ready.get(room)
        if run is not None:
            run.extend(frames)
            return
        self._ready[room] = list(frames)
        if self._flush_at is None:
            loop = asyncio.get_running_loop()
            self._flush_at = (
                loop.call_later(self._batch_s, self.flush)
                if self._batch_s > 0
                else loop.call_soon(self.flush)
            )

    # -- order and holes ------------------------------------------------------------------------

    async def _start_order(self, room: str, followed: _FollowedRoom) -> None:
        # Subscribed first, then read the counter: whatever is published from now on arrives
        # live. A seq at or below the counter that is neither in the window nor stored is in
        # flight (taken, its Kafka write not yet done): the order starts before the first such
        # seq and waits for it as for any hole, so that no connection gets a later seq first.
        counter = await self._broker.current_seq(room)
        if counter == 0:
            # No counter (a new room, or Redis lost it): start after the newest stored message,
            # or a first live frame would make every older message look like a hole to fill.
            counter = await self._history.newest_seq(room)
        floor = max(0, counter - _IN_FLIGHT_GUESS)
        try:
            known = await self._history.between(room, floor, counter)
        except DEPENDENCY_ERRORS:
            # Postgres away: what is older than the window counts as stored, as it nearly
            # always is; a seq in flight below the window may then reach a member late.
            known = await self._broker.window(room, floor, counter)
            floor = known[0].seq - 1 if known else counter
        if followed.order is not None:
            return
        start = first_unknown(floor, counter, {frame.seq for frame in known}) - 1
        followed.order = RoomOrder(start)
        early, followed.early = followed.early, []
        for frame in [*(frame for frame in known if frame.seq > start), *early]:
            self._accept(room, followed, frame)

    def _accept(self, room: str, followed: _FollowedRoom, frame: RoomFrame) -> None:
        if followed.order is None:
            followed.early.append(frame)
            return
        self._ready_to_deliver(room, followed.order.accept(frame))
        if followed.order.missing is not None and (
            followed.filler is None or followed.filler.done()
        ):
            self._metrics.seq_holes.inc()
            followed.filler = self._tasks.spawn(
                "hole-filler", lambda: self._fill_holes(room, followed), about=room
            )

    async def _fill_holes(self, room: str, followed: _FollowedRoom) -> None:
        """Runs until the room has no hole. A failure of Redis or Postgres ends this run, and
        the supervisor starts another after a backoff: the frames held behind the hole wait
        for it, since a hole is given up only after Postgres has been asked."""
        order = followed.order
        assert order is not None
        loop = asyncio.get_running_loop()
        while (hole := order.missing) is not None and self._rooms.get(room) is followed:
            deadline = loop.time() + self._hole_deadline_s
            delay = self._hole_retry_s
            while order.missing == hole and loop.time() < deadline:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
                if order.missing == hole:
                    await self._fill_from(room, followed, hole, from_store=False)
            if order.missing == hole:
                await self._fill_from(room, followed, hole, from_store=True)
            if order.missing == hole:
                self._metrics.seq_given_up.inc()
                self._ready_to_deliver(room, order.give_up_until(hole[1]))

    async def _fill_from(
        self, room: str, followed: _FollowedRoom, hole: tuple[int, int], *, from_store: bool
    ) -> None:
        after, until = hole
        if from_store:
            frames = await self._history.between(room, after, until)
        else:
            frames = await self._broker.window(room, after, until)
        assert followed.order is not None
        for frame in frames:
            self._ready_to_deliver(room, followed.order.accept(frame))

    async def _catch_up_after_reconnect(self) -> None:
        """Reads what each followed room missed while unsubscribed. A failure ends the run and
        the supervisor starts it again; rooms read already are read again, harmlessly (the
        order drops what it delivered)."""
        for room, followed in list(self._rooms.items()):
            if followed.order is None or self._rooms.get(room) is not followed:
                continue
            frames, _ = await self._history.after(room, followed.order.last, _RESYNC_LIMIT)
            for frame in frames:
                self._accept(room, followed, frame)


def first_unknown(floor: int, counter: int, known: set[int]) -> int:
    """The lowest seq in (floor, counter] not in ``known``; counter + 1 when none is missing."""
    return next((seq for seq in range(floor + 1, counter + 1) if seq not in known), counter + 1)
