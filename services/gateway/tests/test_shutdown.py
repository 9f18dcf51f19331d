"""A gateway's shutdown cannot hang silently: a step that waits on another process is bounded,
and a shutdown that outlasts its bound logs where every task is waiting."""

from __future__ import annotations

import asyncio
import logging

import pytest

from chat_gateway.shutdown import bounded, watched, watched_closing


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_a_bounded_step_that_never_returns_lets_the_shutdown_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after: list[str] = []
    with caplog.at_level(logging.WARNING, logger="chat_gateway.shutdown"):
        async with watched_closing(60) as stack:
            stack.callback(after.append, "closed")  # runs after the stuck step
            stack.push_async_callback(bounded(_forever, "jwks client", 0.1))
    assert after == ["closed"]
    record = next(r for r in caplog.records if "ran out of time" in r.getMessage())
    assert record.step == "jwks client"  # type: ignore[attr-defined]


async def test_a_bounded_step_that_returns_in_time_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[bool] = []

    async def quick() -> None:
        done.append(True)

    with caplog.at_level(logging.WARNING, logger="chat_gateway.shutdown"):
        await bounded(quick, "quick", 1)()
    assert done == [True]
    assert not caplog.records


async def test_a_shutdown_past_its_bound_logs_the_stack_of_the_step_it_waits_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = asyncio.Event()

    async def fan_out_stop() -> None:
        await gate.wait()

    async def release_later() -> None:
        await asyncio.sleep(0.5)
        gate.set()

    releaser = asyncio.create_task(release_later())
    with caplog.at_level(logging.WARNING, logger="chat_gateway.shutdown"):
        async with watched(0.1):
            await asyncio.create_task(fan_out_stop(), name="room-fanout")
    await releaser
    record = next(r for r in caplog.records if "shutdown still running" in r.getMessage())
    stacks: str = record.tasks  # type: ignore[attr-defined]
    assert "task room-fanout:" in stacks
    assert "in fan_out_stop" in stacks
    assert "in wait" in stacks  # the Event's, where it hangs
    assert "wait_for=<Future pending" in stacks


async def test_a_quick_shutdown_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="chat_gateway.shutdown"):
        async with watched(0.5):
            await asyncio.sleep(0)
        await asyncio.sleep(0.7)
    assert not caplog.records
