"""Fan-out: one Redis subscription per room per gateway, delivering each room in seq order.

A single pub/sub connection carries every room this gateway follows. Redis pub/sub is
at-most-once, so the reader owns its reconnect: after a drop it subscribes again and fills
what was missed from the recent window and Postgres, through the same ordering as live frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from chat_gateway.broker import EPHEMERAL_HEAD, RoomBroker, channel_of
from chat_gateway.frames import RoomFrame, from_payload
from chat_gateway.history import MessageHistory
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.ordering import RoomOrder
from chat_gateway.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

Deliver = Callable[[str, RoomFrame], None]
Broadcast = Callable[[str, bytes], None]
Control = Callable[[str, bytes], None]

# Seqs above a new subscription's starting point that may be in flight at that moment: a
# message takes its seq, then a Kafka round trip, then is published.
_IN_FLIGHT_GUESS = 64
_RECONNECT_BACKOFF_MAX_S = 2.0


class _FollowedRoom:
    def __init__(self) -> None:
        self.order: RoomOrder | None = None
        self.early: list[RoomFrame] = []  # arrived before the starting point was known
        self.subscribed = asyncio.Event()
        self.filler: asyncio.Task[None] | None = None


class RoomFanout:
    def __init__(
        self,
        redis: Redis,
        broker: RoomBroker,
        history: MessageHistory,
        deliver: Deliver,
        broadcast: Broadcast,
        metrics: GatewayMetrics,
        tasks: TaskSupervisor,
        *,
        control_channels: tuple[str, ...],
        on_control: Control,
        hole_retry_s: float,
        hole_deadline_s: float,
    ) -> None:
        self._redis = redis
        self._broker = broker
        self._history = history
        self._deliver = deliver
        self._broadcast = broadcast
        self._metrics = metrics
        self._tasks = tasks
        self._control_channels = control_channels
        self._on_control = on_control
        self._hole_retry_s = hole_retry_s
        self._hole_deadline_s = hole_deadline_s
        self._rooms: dict[str, _FollowedRoom] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._subscribed_before = False
        self.healthy = False

    async def start(self) -> None:
        self._reader = self._tasks.spawn("room-fanout", self._read_forever)

    async def stop(self) -> None:
        tasks = [self._reader, self._resync, *(room.filler for room in self._rooms.values())]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close_pubsub()

    async def follow(self, room: str) -> int:
        """Subscribe (once per gateway) and return the seq this gateway delivers after."""
        followed = self._rooms.get(room)
        if followed is None:
            followed = self._rooms[room] = _FollowedRoom()
            await self._connected.wait()
            if self._pubsub is not None:
                await self._pubsub.subscribe(channel_of(room))
        await followed.subscribed.wait()
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
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel_of(room))

    async def _start_order(self, room: str, followed: _FollowedRoom) -> None:
        # Subscribed first, then read the counter: whatever is published from now on arrives
        # live, and a seq at or below the counter not yet in the window may still arrive late.
        counter = await self._broker.current_seq(room)
        if counter == 0:
            # No counter (a new room, or Redis lost it): start after the newest stored message,
            # or a first live frame would make every older message look like a hole to fill.
            counter = await self._history.newest_seq(room)
        if followed.order is not None:
            return
        recent = {
            frame.seq for frame in await self._broker.window(room, counter - _IN_FLIGHT_GUESS)
        }
        order = RoomOrder(counter)
        order.expect_late(
            [
                s
                for s in range(max(1, counter - _IN_FLIGHT_GUESS + 1), counter + 1)
                if s not in recent
            ]
        )
        followed.order = order
        early, followed.early = followed.early, []
        for frame in early:
            self._accept(room, followed, frame)

    def _accept(self, room: str, followed: _FollowedRoom, frame: RoomFrame) -> None:
        if followed.order is None:
            followed.early.append(frame)
            return
        for ready in followed.order.accept(frame):
            self._deliver(room, ready)
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
                for ready in order.give_up_until(hole[1]):
                    self._deliver(room, ready)

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
            for ready in followed.order.accept(frame):
                self._deliver(room, ready)

    async def _catch_up_after_reconnect(self) -> None:
        """Reads what each followed room missed while unsubscribed. A failure ends the run and
        the supervisor starts it again; rooms read already are read again, harmlessly (the
        order drops what it delivered)."""
        for room, followed in list(self._rooms.items()):
            if followed.order is None or self._rooms.get(room) is not followed:
                continue
            frames, _ = await self._history.after(room, followed.order.last, 10_000)
            for frame in frames:
                self._accept(room, followed, frame)

    async def _read_forever(self) -> None:
        """Owns the subscription: reconnects after a Redis failure itself; any other failure
        ends the run (the supervisor restarts it), dropping the subscription first so the
        next run subscribes afresh and catches up."""
        backoff = 0.05
        while True:
            try:
                await self._subscribe()
                backoff = 0.05
                assert self._pubsub is not None
                while True:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_message(message)
            except (RedisError, OSError) as exc:
                self._metrics.redis_errors.labels("subscribe").inc()
                log.warning("room fan-out lost redis; reconnecting", extra={"error": repr(exc)})
                await self._unsubscribed()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RECONNECT_BACKOFF_MAX_S)
            except BaseException:
                await self._unsubscribed()
                raise

    async def _subscribe(self) -> None:
        pubsub = self._redis.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(*self._control_channels, *map(channel_of, self._rooms))
        self._connected.set()
        self.healthy = True
        if self._subscribed_before:
            log.info("room fan-out resubscribed", extra={"rooms": len(self._rooms)})
            if self._resync is not None:
                self._resync.cancel()
            self._resync = self._tasks.spawn("fanout-resync", self._catch_up_after_reconnect)
        self._subscribed_before = True

    async def _unsubscribed(self) -> None:
        self.healthy = False
        self._connected.clear()
        for followed in self._rooms.values():
            followed.subscribed.clear()
        await self._close_pubsub()

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if message["type"] == "message" and channel in self._control_channels:
            self._on_control(channel, message["data"])
            return
        room = channel.removeprefix("room:") if channel.startswith("room:") else None
        if message["type"] == "subscribe":
            if room is not None and (followed := self._rooms.get(room)) is not None:
                followed.subscribed.set()
            return
        if message["type"] != "message" or room is None:
            return
        followed = self._rooms.get(room)
        if followed is None:
            return
        data: bytes = message["data"]
        if data.startswith(EPHEMERAL_HEAD):
            self._broadcast(room, data[len(EPHEMERAL_HEAD) :])
            return
        try:
            frame = from_payload(data)
        except ValueError:
            log.warning("dropped a malformed room frame", extra={"room": room})
            return
        self._accept(room, followed, frame)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
