from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from prometheus_client import CollectorRegistry, Counter

from chat_gateway.supervisor import TaskSupervisor


def _supervisor() -> tuple[TaskSupervisor, CollectorRegistry]:
    registry = CollectorRegistry()
    return TaskSupervisor(Counter("failures", "test", ["task"], registry=registry)), registry


def _failures(registry: CollectorRegistry, task: str) -> float | None:
    return registry.get_sample_value("failures_total", {"task": task})


async def test_a_failing_task_is_counted_and_restarted_until_it_finishes() -> None:
    tasks, registry = _supervisor()
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise ConnectionError("postgres is starting up")

    await tasks.spawn("flaky", flaky)
    assert len(runs) == 3
    assert _failures(registry, "flaky") == 2
    assert tasks.crash_looping == []


async def test_a_task_failing_again_and_again_is_reported_until_stopped() -> None:
    tasks, registry = _supervisor()

    async def broken() -> None:
        raise RuntimeError("a bug")

    tasks.spawn("broken", broken)
    for _ in range(100):
        if tasks.crash_looping:
            break
        await asyncio.sleep(0.05)
    assert tasks.crash_looping == ["broken"]
    assert (_failures(registry, "broken") or 0) >= 3
    await tasks.stop()
    assert tasks.crash_looping == []


async def test_a_task_that_will_not_stop_is_named_with_where_it_waits_and_left_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks, _ = _supervisor()
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # a clean-up step that never returns
            raise

    async def obedient() -> None:
        await asyncio.Event().wait()

    left = tasks.spawn("room-fanout", stubborn)
    gone = tasks.spawn("presence-heartbeat", obedient)
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="chat_gateway.supervisor"):
        await asyncio.wait_for(tasks.stop(limit_s=0.2), 5)
    assert gone.cancelled()
    assert not left.done()
    [record] = [r for r in caplog.records if "did not stop" in r.getMessage()]
    assert record.task == "room-fanout"  # type: ignore[attr-defined]
    assert "in stubborn" in record.waits_in  # type: ignore[attr-defined]
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await left
