"""A client process of the benchmark: thousands of connections on one uvloop (picows), driven by
the session's commands over a pipe.

A seat is one simulated client: its rooms, its token and what it has received; a member is the
seat's current connection. Every published body starts with `<index>:<send time ns>:`, so any
receiver knows which message it got and how long it took without asking anyone. Each seat marks
the indexes it has seen: a second receipt is a duplicate, and the session later compares how many
seats got each acknowledged message with how many should have.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.wire import Dialect, dialect

# Filler that brings a message to about 120 bytes, a short chat line.
PAD = "x" * 80
OPEN_CONCURRENCY = 200
HANDSHAKE_LIMIT_S = 30.0
# A connection that fails to open or to complete its handshake (reset, timed out, refused with
# "retry") is tried again after a jittered pause, as clients reconnect; each retry is counted,
# and a seat fails only after the last.
RETRIES = 3
RETRY_PAUSE_S = (0.5, 1.5)


@dataclass
class SeatSpec:
    url: str
    token: str
    rooms: list[str]
    publisher: int = -1  # this seat's publisher number, -1 when it only listens


@dataclass
class Stage:
    """One measurement: message indexes base .. base + slots - 1 belong to it."""

    base: int = 0
    slots: int = 0
    received: array[int] = field(default_factory=lambda: array("I"))
    acked: bytearray = field(default_factory=bytearray)
    latencies_ms: array[float] = field(default_factory=lambda: array("f"))
    ack_ms: array[float] = field(default_factory=lambda: array("f"))
    reconnect_ms: array[float] = field(default_factory=lambda: array("f"))
    duplicates: int = 0
    recovered: int = 0
    deliveries: int = 0
    sent: int = 0
    skipped: int = 0
    refusals: Counter[str] = field(default_factory=Counter)


class Seat:
    def __init__(self, spec: SeatSpec, crowd: Crowd) -> None:
        self.spec = spec
        self.crowd = crowd
        self.positions: dict[str, Any] = {}
        self.seen = bytearray()
        self.member: Member | None = None
        self.reconnecting = False
        self.sent = 0

    def delivered(self, body: str, *, recovered: bool) -> None:
        stage = self.crowd.stage
        first = body.index(":")
        index = int(body[:first]) - stage.base
        if not 0 <= index < stage.slots:
            return  # a late message of an earlier stage
        if self.seen[index]:
            stage.duplicates += 1
            return
        self.seen[index] = 1
        stage.received[index] += 1
        stage.deliveries += 1
        if recovered:
            stage.recovered += 1
            return
        sent_ns = int(body[first + 1 : body.index(":", first + 1)])
        stage.latencies_ms.append((time.time_ns() - sent_ns) / 1e6)


class Member(WSListener):
    """One connection of a seat; what ``wire.Link`` asks of it."""

    def __init__(self, seat: Seat) -> None:
        self.seat = seat
        self.rooms = seat.spec.rooms
        self.token = seat.spec.token
        self.positions = seat.positions
        self.transport: WSTransport | None = None
        self.leaving = False
        self._ids = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._early: dict[int, tuple[bool, Any]] = {}
        self.publishes: dict[int, tuple[int, int]] = {}

    # -- picows -----------------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.seat.crowd.dialect.on_text(self, frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        crowd = self.seat.crowd
        if not self.leaving:
            crowd.disconnects[self.close_reason(transport)] += 1
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"closed: {self.close_reason(transport)}"))
        self._waiting.clear()
        if self.seat.member is self:
            self.seat.member = None

    @staticmethod
    def close_reason(transport: WSTransport) -> str:
        handshake = transport.close_handshake
        received = handshake.recv if handshake is not None else None
        return f"{received.code.value} {received.reason}".strip() if received else "dropped"

    # -- wire.Link --------------------------------------------------------------------------

    def write(self, payload: bytes) -> None:
        if self.transport is not None:
            self.transport.send(WSMsgType.TEXT, payload)

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def request(self, command_id: int, payload: bytes | None) -> asyncio.Future[Any]:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        early = self._early.pop(command_id, None)
        if early is not None:
            self._settle(waiter, *early)
        else:
            self._waiting[command_id] = waiter
        if payload is not None:
            self.write(payload)
        return waiter

    def answer(self, command_id: int, ok: bool, result: Any) -> None:
        published = self.publishes.pop(command_id, None)
        if published is not None:
            self.seat.crowd.acknowledged(*published, ok, result)
            return
        waiter = self._waiting.pop(command_id, None)
        if waiter is None:
            self._early[command_id] = (ok, result)
        elif not waiter.done():
            self._settle(waiter, ok, result)

    def delivered(self, body: str, *, recovered: bool) -> None:
        self.seat.delivered(body, recovered=recovered)

    @staticmethod
    def _settle(waiter: asyncio.Future[Any], ok: bool, result: Any) -> None:
        if ok:
            waiter.set_result(result)
        else:
            waiter.set_exception(ConnectionError(f"refused: {result}"))


class Crowd:
    def __init__(self, dialect_name: str) -> None:
        self.dialect: Dialect = dialect(dialect_name)
        self.seats: list[Seat] = []
        self.stage = Stage()
        self.disconnects: Counter[str] = Counter()
        self.retries = 0
        self._tls = ssl.create_default_context()
        # The balancer's certificate is self-signed and the connection never leaves loopback.
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    async def open(self, specs: list[SeatSpec]) -> dict[str, Any]:
        """Opens a seat per spec; returns how many opened, why others failed, and how long."""
        started = time.perf_counter()
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        failures: Counter[str] = Counter()

        async def one(seat: Seat) -> None:
            async with gate:
                error = await self._connect(seat, resume=False)
                if error:
                    failures[error] += 1

        seats = [Seat(spec, self) for spec in specs]
        for seat in seats:
            seat.seen = bytearray(self.stage.slots)
        self.seats += seats
        await asyncio.gather(*(one(seat) for seat in seats))
        rooms: Counter[str] = Counter()
        for seat in seats:
            if seat.member is not None:
                rooms.update(seat.spec.rooms)
        return {
            "opened": sum(seat.member is not None for seat in seats),
            "rooms": dict(rooms),
            "failures": dict(failures),
            "retries": self.retries,
            "seconds": time.perf_counter() - started,
        }

    async def _connect(self, seat: Seat, *, resume: bool) -> str:
        for attempt in range(RETRIES + 1):
            error = await self._attempt(seat, resume=resume)
            if not error or attempt == RETRIES:
                return error
            self.retries += 1
            await asyncio.sleep(random.uniform(*RETRY_PAUSE_S))
        return error

    async def _attempt(self, seat: Seat, *, resume: bool) -> str:
        member = Member(seat)
        url = seat.spec.url
        try:
            await ws_connect(
                lambda: member,
                url,
                ssl_context=self._tls if url.startswith("wss:") else None,
                websocket_handshake_timeout=HANDSHAKE_LIMIT_S,
                max_frame_size=1 << 20,
            )
            await asyncio.wait_for(self.dialect.handshake(member, resume), HANDSHAKE_LIMIT_S)
        except Exception as exc:  # any failure is counted, by kind, and the run goes on
            self._leave(member)
            return type(exc).__name__ + (f": {exc}" if isinstance(exc, ConnectionError) else "")
        # Only a connection that finished its handshake is the seat's: a seat never has two.
        seat.member = member
        return ""

    def _leave(self, member: Member) -> None:
        member.leaving = True
        if member.transport is not None:
            member.transport.disconnect()

    def reset(self, base: int, slots: int) -> dict[str, Any]:
        self.stage = Stage(
            base=base,
            slots=slots,
            received=array("I", bytes(4 * slots)),
            acked=bytearray(slots),
        )
        for seat in self.seats:
            seat.seen = bytearray(slots)
            seat.sent = 0
        self.disconnects.clear()
        return {}

    def acknowledged(self, index: int, sent_ns: int, ok: bool, result: Any) -> None:
        if ok:
            self.stage.acked[index] = 1
            self.stage.ack_ms.append((time.time_ns() - sent_ns) / 1e6)
        else:
            self.stage.refusals[str(result)[:80]] += 1

    async def publish(
        self,
        start_at: float,
        rate: float,
        seconds: float,
        publishers: int,
        cap: int,
        churn: float,
        away_s: float,
    ) -> dict[str, Any]:
        """Sends the stage's messages: the k-th of all at start + k / rate, from publisher
        k mod ``publishers`` (those of this process). ``churn``: share of the listening seats
        that drop per second, stay away ``away_s`` and come back asking to catch up."""
        loop = asyncio.get_running_loop()
        start = loop.time() + (start_at - time.time())
        mine = {seat.spec.publisher: seat for seat in self.seats if seat.spec.publisher >= 0}
        churning = (
            asyncio.ensure_future(self._churn(start, seconds, churn, away_s)) if churn else None
        )
        for k in range(int(rate * seconds)):
            seat = mine.get(k % publishers)
            if seat is None:
                continue
            delay = start + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(seat, k % publishers, k // publishers, cap)
        if churning is not None:
            await churning
        return {"sent": self.stage.sent, "skipped": self.stage.skipped}

    def _send(self, seat: Seat, publisher: int, n: int, cap: int) -> None:
        member, stage = seat.member, self.stage
        index = publisher * cap + n
        if member is None or member.transport is None or index >= stage.slots:
            stage.skipped += 1
            return
        sent_ns = time.time_ns()
        body = f"{stage.base + index}:{sent_ns}:{PAD}"
        command_id = member.next_id()
        member.publishes[command_id] = (index, sent_ns)
        member.write(self.dialect.publish(member, seat.spec.rooms[0], body, command_id))
        stage.sent += 1

    async def _churn(self, start: float, seconds: float, share_per_s: float, away_s: float) -> None:
        loop = asyncio.get_running_loop()
        listeners = [seat for seat in self.seats if seat.spec.publisher < 0]
        tick = 0.1
        pending: set[asyncio.Task[None]] = set()
        while loop.time() < start + seconds:
            await asyncio.sleep(tick)
            leaving = min(len(listeners), round(len(listeners) * share_per_s * tick))
            for seat in random.sample(listeners, k=leaving):
                if seat.member is not None and not seat.reconnecting:
                    task = asyncio.ensure_future(self._reconnect(seat, away_s))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)

    async def _reconnect(self, seat: Seat, away_s: float) -> None:
        seat.reconnecting = True
        if seat.member is not None:
            self._leave(seat.member)
            seat.member = None
        await asyncio.sleep(away_s)
        started = time.perf_counter()
        try:
            error = await self._connect(seat, resume=True)
        finally:
            seat.reconnecting = False
        if error:
            self.stage.refusals[f"reconnect: {error}"[:80]] += 1
        else:
            self.stage.reconnect_ms.append((time.perf_counter() - started) * 1000)

    def progress(self) -> dict[str, Any]:
        stage = self.stage
        acked = sum(stage.acked)
        return {
            "deliveries": stage.deliveries,
            "acked": acked,
            "unanswered": stage.sent - acked - sum(stage.refusals.values()),
        }

    def collect(self) -> dict[str, Any]:
        stage = self.stage
        return {
            "received": stage.received.tobytes(),
            "acked": bytes(stage.acked),
            "latencies_ms": stage.latencies_ms.tobytes(),
            "ack_ms": stage.ack_ms.tobytes(),
            "reconnect_ms": stage.reconnect_ms.tobytes(),
            "duplicates": stage.duplicates,
            "recovered": stage.recovered,
            "sent": stage.sent,
            "skipped": stage.skipped,
            "refusals": dict(stage.refusals),
            "disconnects": dict(self.disconnects),
            "open": sum(seat.member is not None for seat in self.seats),
            "retries": self.retries,
        }

    async def close(self) -> dict[str, Any]:
        for seat in self.seats:
            if seat.member is not None:
                self._leave(seat.member)
                seat.member = None
        self.seats = []
        await asyncio.sleep(0.5)  # let the closes reach the servers
        return {}


async def _serve(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    crowd: Crowd | None = None
    while True:
        command, arguments = await loop.run_in_executor(None, pipe.recv)
        if command == "quit":
            break
        if command == "start":
            crowd = Crowd(arguments["dialect"])
            pipe.send({})
            continue
        assert crowd is not None, "start first"
        result = getattr(crowd, command)(**arguments)
        if asyncio.iscoroutine(result):
            result = await result
        pipe.send(result)


def run(pipe: Connection) -> None:
    """The client process's entry point (multiprocessing, spawn)."""
    uvloop.run(_serve(pipe))
