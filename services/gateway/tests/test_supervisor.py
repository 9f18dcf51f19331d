from __future__ import annotations

import asyncio

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
