"""The four load shapes, the same for every system.

1. idle: connections that joined a room and wait → resident memory per connection.
2. fan-out: one room of M members, P of them publishing at a fixed total rate → deliveries/s,
   publish → deliver latency, server CPU per 1,000 deliveries, losses, duplicates.
   rates: the same room at a lower and a higher rate.
3. steps: members added to one room in steps at a fixed rate until p95 passes the limit →
   the clients a system holds.
4. churn: many small rooms while a share of the members reconnect every second, catching up
   where the system can → latency, reconnect time, what never arrived.
5. acks: many rooms of two at a high total rate → publish → acknowledgement latency.

A message counts as lost only after the drain period, and only if it was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.crowd import SeatSpec
from bench.fleet import Fleet
from bench.meter import Meter
from bench.systems import Deployment

Row = dict[str, Any]
# Several small users share the seats of one room: a join announces a user's presence to the
# room only once, so setting up a room of thousands does not flood it before it is measured.
ROOM_USERS = 16


@dataclass(frozen=True)
class Shape:
    idle_counts: tuple[int, ...]
    fanout_members: int
    fanout_publishers: int
    fanout_rate: float
    fanout_seconds: float
    step_size: int
    step_max: int
    step_rate: float
    step_seconds: float
    churn_connections: int
    churn_room_size: int
    churn_rate: float
    churn_share_per_s: float
    churn_seconds: float
    drain_s: float
    # A dropped client stays away this long before it reconnects (a train tunnel, a Wi-Fi hop).
    churn_away_s: float = 1.0
    # Pause after opening connections, for joins and presence to settle before measuring.
    settle_s: float = 2.0
    # Full sessions start every system afresh for every scenario (memory and caches as new);
    # short ones start each system once and run its scenarios in a row.
    fresh_per_scenario: bool = True
    step_limit_ms: float = 250.0
    processes: int = 2
    # (2b) the fan-out room again at other rates: a quiet room and twice the load of (2).
    sweep_rates: tuple[float, ...] = (20.0, 80.0)
    # (5) the send path: many rooms of two, each with a publisher, at this total rate; what
    # is measured is the acknowledgement (for us: admitted, numbered and in Kafka, acks=all).
    ack_rooms: int = 50
    ack_rate: float = 100.0


# The same shapes, smaller and shorter: `make bench` stays under ten minutes.
SHORT = Shape(
    idle_counts=(1000, 2000),
    fanout_members=1000,
    fanout_publishers=16,
    fanout_rate=40,
    fanout_seconds=6,
    step_size=1000,
    step_max=2000,
    step_rate=20,
    step_seconds=3,
    churn_connections=500,
    churn_room_size=5,
    churn_rate=50,
    churn_share_per_s=0.05,
    churn_seconds=6,
    drain_s=4,
    settle_s=1.0,
    fresh_per_scenario=False,
    sweep_rates=(80.0,),
)
FULL = Shape(
    idle_counts=(1000, 5000, 10000),
    fanout_members=1000,
    fanout_publishers=16,
    fanout_rate=40,
    fanout_seconds=30,
    step_size=1000,
    step_max=10000,
    step_rate=20,
    step_seconds=10,
    churn_connections=2000,
    churn_room_size=5,
    churn_rate=200,
    churn_share_per_s=0.05,
    churn_seconds=30,
    drain_s=10,
)


class Run:
    """One scenario on one system: its clients, its meter, and a room-name prefix of its own."""

    def __init__(self, deployment: Deployment, fleet: Fleet, meter: Meter, prefix: str) -> None:
        self.deployment = deployment
        self.fleet = fleet
        self.meter = meter
        self.prefix = prefix
        self._base = 0

    def seats(
        self,
        indexes: range,
        room_of: Callable[[int], str],
        publisher_of: Callable[[int], int] = lambda _: -1,
        user_of: Callable[[int], int] = lambda i: i % ROOM_USERS,
    ) -> list[SeatSpec]:
        urls, tokens = self.deployment.urls, self.deployment.tokens
        return [
            SeatSpec(
                urls[i % len(urls)], tokens[user_of(i) % len(tokens)], [room_of(i)], publisher_of(i)
            )
            for i in indexes
        ]

    def row(self, scenario: str, **figures: Any) -> Row:
        return {
            "scenario": scenario,
            "system": self.deployment.system,
            "load_1m": os.getloadavg()[0],
            **figures,
        }

    async def measure(
        self,
        *,
        receivers: list[int],
        rate: float,
        seconds: float,
        drain_s: float,
        churn: float = 0.0,
        away_s: float = 0.0,
    ) -> Row:
        """Publishes for ``seconds``, waits until every acknowledged message reached the open
        members of its room (``receivers``, one count per publisher) or the drain period ends,
        and returns the figures of that window."""
        publishers = len(receivers)
        cap = math.ceil(rate * seconds / publishers) + 1
        slots = publishers * cap
        await self.fleet.reset(self._base, slots)
        self._base += slots
        start_at = time.time() + 1.0
        publishing = asyncio.ensure_future(
            self.fleet.publish(
                start_at=start_at,
                rate=rate,
                seconds=seconds,
                publishers=publishers,
                cap=cap,
                churn=churn,
                away_s=away_s,
            )
        )
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu_start, started = self.meter.cpu_seconds(), time.monotonic()
        await publishing
        owed = np.repeat(np.array(receivers, dtype=np.int64), cap)
        cpu_end, ended = await self._drain(owed, drain_s)
        collected = await self.fleet.collect()
        return _figures(collected, owed, seconds, cpu_start, cpu_end, ended - started)

    async def _drain(
        self, owed: np.ndarray[Any, Any], drain_s: float
    ) -> tuple[dict[str, float], float]:
        deadline = time.monotonic() + drain_s
        last, cpu, at = -1, self.meter.cpu_seconds(), time.monotonic()
        while time.monotonic() < deadline:
            deliveries, acked, unanswered = await self.fleet.progress()
            if deliveries != last:
                last, cpu, at = deliveries, self.meter.cpu_seconds(), time.monotonic()
            if not unanswered and deliveries >= acked * owed.mean():
                break
            await asyncio.sleep(0.25)
        return cpu, at


def _figures(
    collected: dict[str, Any],
    owed: np.ndarray[Any, Any],
    seconds: float,
    cpu_start: dict[str, float],
    cpu_end: dict[str, float],
    window_s: float,
) -> Row:
    received, acked = collected["received"], collected["acked"].astype(bool)
    latencies = collected["latencies_ms"]
    deliveries = int(received.sum())
    expected = int(owed[acked].sum())
    lost = int(np.clip(owed - received, 0, None)[acked].sum())
    row: Row = {
        "sent": collected["sent"],
        "acked": int(acked.sum()),
        "skipped": collected["skipped"],
        "deliveries": deliveries,
        "expected": expected,
        "lost": lost,
        "duplicates": collected["duplicates"],
        "recovered": collected["recovered"],
        "deliveries_per_s": round(deliveries / seconds),
        **_quantiles("", latencies),
        **_quantiles("ack_", collected["ack_ms"]),
        **_quantiles("reconnect_", collected["reconnect_ms"]),
        "window_s": round(window_s, 2),
        "refusals": _flat(collected["refusals"]),
        "disconnects": _flat(collected["disconnects"]),
    }
    for group in cpu_end:
        spent = cpu_end[group] - cpu_start.get(group, 0.0)
        row[f"{group}_cpu_s"] = round(spent, 3)
        row[f"{group}_cpu_pct"] = round(spent * 100 / window_s, 1)
        row[f"{group}_cpu_ms_per_1k"] = round(spent * 1e6 / deliveries, 2) if deliveries else None
    return row


def _quantiles(prefix: str, values: np.ndarray[Any, Any]) -> Row:
    if not len(values):
        return {
            f"{prefix}p50_ms": None,
            f"{prefix}p95_ms": None,
            f"{prefix}p99_ms": None,
            f"{prefix}max_ms": None,
        }
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        f"{prefix}p50_ms": round(float(p50), 1),
        f"{prefix}p95_ms": round(float(p95), 1),
        f"{prefix}p99_ms": round(float(p99), 1),
        f"{prefix}max_ms": round(float(values.max()), 1),
    }


def _flat(counts: dict[str, int]) -> str:
    return "; ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()))


# -- the scenarios --------------------------------------------------------------------------


async def idle(run: Run, shape: Shape) -> list[Row]:
    await asyncio.sleep(shape.settle_s)
    baseline = run.meter.rss_bytes("server")
    rows: list[Row] = []
    opened = 0
    for count in shape.idle_counts:
        # Rooms of 100, one user each: memory of connections, not of presence traffic.
        specs = run.seats(
            range(opened, count),
            lambda i: f"{run.prefix}-idle-{i // 100}",
            user_of=lambda i: i // 100,
        )
        result = await run.fleet.open(specs)
        opened = count
        cpu_start = run.meter.cpu_seconds()
        await asyncio.sleep(shape.settle_s + 1)
        cpu_end = run.meter.cpu_seconds()
        rss = run.meter.rss_bytes("server")
        held = (await run.fleet.collect())["open"]
        rows.append(
            run.row(
                "idle",
                connections=count,
                held=held,
                retries=result["retries"],
                open_seconds=round(result["seconds"], 1),
                open_failures=_flat(result["failures"]),
                server_rss_mib=round(rss / 2**20, 1),
                proxy_rss_mib=round(run.meter.rss_bytes("proxy") / 2**20, 1),
                kib_per_connection=round((rss - baseline) / 1024 / max(held, 1), 1),
                idle_server_cpu_pct=round(
                    (cpu_end["server"] - cpu_start["server"]) * 100 / (shape.settle_s + 1), 1
                ),
            )
        )
        if held < count * 0.99:
            break  # this system holds no more here; the row says how many it did
    return rows


async def fanout(
    run: Run, shape: Shape, during: Callable[[], AbstractAsyncContextManager[None]] | None = None
) -> list[Row]:
    """``during``: a context the publishing window runs in (the profiler's)."""
    members, publishers = shape.fanout_members, shape.fanout_publishers
    room = f"{run.prefix}-fan"
    result = await run.fleet.open(
        run.seats(range(members), lambda _: room, lambda i: i if i < publishers else -1)
    )
    await asyncio.sleep(shape.settle_s)
    async with during() if during is not None else contextlib.nullcontext():
        figures = await run.measure(
            receivers=[result["rooms"].get(room, 0)] * publishers,
            rate=shape.fanout_rate,
            seconds=shape.fanout_seconds,
            drain_s=shape.drain_s,
        )
    return [
        run.row(
            "fanout",
            connections=result["opened"],
            members=members,
            publishers=publishers,
            rate=shape.fanout_rate,
            open_failures=_flat(result["failures"]),
            **figures,
        )
    ]


async def steps(run: Run, shape: Shape) -> list[Row]:
    publishers, room = shape.fanout_publishers, f"{run.prefix}-steps"
    rows: list[Row] = []
    opened = 0
    for members in range(shape.step_size, shape.step_max + 1, shape.step_size):
        result = await run.fleet.open(
            run.seats(
                range(members - shape.step_size, members),
                lambda _: room,
                lambda i: i if i < publishers else -1,
            )
        )
        opened += result["rooms"].get(room, 0)
        await asyncio.sleep(shape.settle_s)
        figures = await run.measure(
            receivers=[opened] * publishers,
            rate=shape.step_rate,
            seconds=shape.step_seconds,
            drain_s=shape.drain_s,
        )
        rows.append(
            run.row(
                "steps",
                members=members,
                rate=shape.step_rate,
                open_failures=_flat(result["failures"]),
                **figures,
            )
        )
        if not _holds(rows[-1], shape.step_limit_ms):
            break
    return rows


def _holds(row: Row, limit_ms: float) -> bool:
    p95 = row.get("p95_ms")
    return p95 is not None and p95 <= limit_ms and row["lost"] <= 0.01 * max(row["expected"], 1)


async def churn(run: Run, shape: Shape) -> list[Row]:
    size, count = shape.churn_room_size, shape.churn_connections
    rooms = count // size
    result = await run.fleet.open(
        run.seats(
            range(rooms * size),
            lambda i: f"{run.prefix}-small-{i // size}",
            lambda i: i // size if i % size == 0 else -1,
            user_of=lambda i: i,
        )
    )
    await asyncio.sleep(shape.settle_s)
    figures = await run.measure(
        receivers=[result["rooms"].get(f"{run.prefix}-small-{n}", 0) for n in range(rooms)],
        rate=shape.churn_rate,
        seconds=shape.churn_seconds,
        drain_s=shape.drain_s,
        churn=shape.churn_share_per_s,
        away_s=shape.churn_away_s,
    )
    return [
        run.row(
            "churn",
            connections=result["opened"],
            rooms=rooms,
            room_size=size,
            rate=shape.churn_rate,
            churn_share_per_s=shape.churn_share_per_s,
            open_failures=_flat(result["failures"]),
            **figures,
        )
    ]


async def rates(run: Run, shape: Shape) -> list[Row]:
    members, publishers = shape.fanout_members, shape.fanout_publishers
    room = f"{run.prefix}-rates"
    result = await run.fleet.open(
        run.seats(range(members), lambda _: room, lambda i: i if i < publishers else -1)
    )
    await asyncio.sleep(shape.settle_s)
    rows: list[Row] = []
    for rate in shape.sweep_rates:
        figures = await run.measure(
            receivers=[result["rooms"].get(room, 0)] * publishers,
            rate=rate,
            seconds=shape.fanout_seconds,
            drain_s=shape.drain_s,
        )
        rows.append(
            run.row(
                "rates",
                connections=result["opened"],
                members=members,
                publishers=publishers,
                rate=rate,
                open_failures=_flat(result["failures"]),
                **figures,
            )
        )
    return rows


async def acks(run: Run, shape: Shape) -> list[Row]:
    rooms = shape.ack_rooms
    result = await run.fleet.open(
        run.seats(
            range(rooms * 2),
            lambda i: f"{run.prefix}-pair-{i // 2}",
            lambda i: i // 2 if i % 2 == 0 else -1,
            user_of=lambda i: i,
        )
    )
    await asyncio.sleep(shape.settle_s)
    figures = await run.measure(
        receivers=[result["rooms"].get(f"{run.prefix}-pair-{n}", 0) for n in range(rooms)],
        rate=shape.ack_rate,
        seconds=shape.fanout_seconds,
        drain_s=shape.drain_s,
    )
    return [
        run.row(
            "acks",
            connections=result["opened"],
            rooms=rooms,
            rate=shape.ack_rate,
            open_failures=_flat(result["failures"]),
            **figures,
        )
    ]


SCENARIOS = {
    "idle": idle,
    "fanout": fanout,
    "rates": rates,
    "steps": steps,
    "churn": churn,
    "acks": acks,
}
