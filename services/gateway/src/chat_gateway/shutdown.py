"""A gateway's shutdown, watched: each step that talks to another process is bounded, and a
shutdown that outlasts its bound says where it is waiting.

A drained gateway once stayed alive for good after SIGTERM, its event loop idle and its log
silent about which step never returned. With this, such a hang names its step in the log (every
task's stack) and a bounded step lets the shutdown go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from chat_gateway.awaiting import where

log = logging.getLogger(__name__)


def bounded(
    step: Callable[[], Awaitable[None]], what: str, limit_s: float
) -> Callable[[], Awaitable[None]]:
    """``step`` given at most ``limit_s``; past it, a warning and the shutdown goes on."""

    async def run() -> None:
        try:
            async with asyncio.timeout(limit_s):
                await step()
        except TimeoutError:
            log.warning("shutdown step ran out of time; going on", extra={"step": what})

    return run


@contextlib.asynccontextmanager
async def watched_closing(report_after_s: float) -> AsyncIterator[contextlib.AsyncExitStack]:
    """An exit stack whose closing is ``watched``."""
    stack = contextlib.AsyncExitStack()
    try:
        yield stack
    finally:
        async with watched(report_after_s):
            await stack.aclose()


@contextlib.asynccontextmanager
async def watched(report_after_s: float) -> AsyncIterator[None]:
    """While the block runs, log every task's stack if it takes longer than ``report_after_s``."""
    watchdog = asyncio.create_task(_report_after(report_after_s), name="shutdown-watchdog")
    try:
        yield
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog


async def _report_after(delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    log.warning(
        "shutdown still running; every task's stack follows",
        extra={"after_s": delay_s, "tasks": task_stacks()},
    )


def task_stacks() -> str:
    """Every task of the running loop but the caller, each with where it is suspended."""
    current = asyncio.current_task()
    return "\n".join(
        f"task {task.get_name()}:\n{where(task)}"
        for task in sorted(asyncio.all_tasks(), key=lambda task: task.get_name())
        if task is not current
    )
