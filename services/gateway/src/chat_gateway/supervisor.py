"""Keeps the gateway's background work alive, and says so when it cannot.

Every long-lived or retried task (the room fan-out reader, hole fillers, the catch-up after a
Redis reconnect, the presence heartbeat and sweeper) runs under ``TaskSupervisor``: an
unexpected exception is logged, counted by task and the work started again after a backoff, so
a dependency's restart (Postgres, Redis) delays the work instead of ending it. A normal return
ends the task. A task that keeps failing without a stable run in between is crash-looping, and
readiness reports it until it runs stably again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from chat_gateway.awaiting import where

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]

# The first retry comes at once (a blip), later ones back off to a few seconds: a dependency
# that restarts takes seconds, and retrying faster would only flood the log.
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0
# A run this long was stable: the failure after it starts a new count. Failures in a row before
# readiness reports the task: one failure is a blip, three within seconds is a loop.
_STABLE_RUN_S = 30.0
_CRASH_LOOP_FAILURES = 3


class _Watched:
    __slots__ = ("failures_in_a_row", "name", "started_at")

    def __init__(self, name: str, started_at: float) -> None:
        self.name = name
        self.started_at = started_at
        self.failures_in_a_row = 0


class TaskSupervisor:
    def __init__(self, failures: Counter) -> None:
        self._failures = failures
        self._watched: set[_Watched] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, name: str, work: Work, *, about: str = "") -> asyncio.Task[None]:
        """Run ``work`` until it returns, restarting it after each unexpected exception.

        ``name`` labels the failure counter (keep it a fixed word); ``about`` goes in the log.
        """
        task = asyncio.get_running_loop().create_task(self._keep(name, work, about), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def crash_looping(self) -> list[str]:
        """Names of the tasks failing again and again right now."""
        now = asyncio.get_running_loop().time()
        return sorted(
            {
                watched.name
                for watched in self._watched
                if watched.failures_in_a_row >= _CRASH_LOOP_FAILURES
                and now - watched.started_at < _STABLE_RUN_S
            }
        )

    async def stop(self, limit_s: float | None = None) -> None:
        """Cancel every task and wait for them to end, for at most ``limit_s``: a task still
        running then is logged with where it waits and left behind, so that a shutdown goes on."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, running = await asyncio.wait(tasks, timeout=limit_s)
        for task in running:
            log.warning(
                "background task did not stop when cancelled; left behind",
                extra={"task": task.get_name(), "waits_in": where(task)},
            )
        for task in tasks:
            if task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    task.result()

    async def _keep(self, name: str, work: Work, about: str) -> None:
        loop = asyncio.get_running_loop()
        watched = _Watched(name, loop.time())
        self._watched.add(watched)
        backoff = _FIRST_BACKOFF_S
        try:
            while True:
                watched.started_at = loop.time()
                try:
                    await work()
                    return
                except Exception:
                    self._failures.labels(name).inc()
                    log.exception("background task failed; restarting", extra=_extra(name, about))
                if loop.time() - watched.started_at >= _STABLE_RUN_S:
                    watched.failures_in_a_row = 0
                    backoff = _FIRST_BACKOFF_S
                watched.failures_in_a_row += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
        finally:
            self._watched.discard(watched)


def _extra(name: str, about: str) -> dict[str, str]:
    return {"task": name, "about": about} if about else {"task": name}
