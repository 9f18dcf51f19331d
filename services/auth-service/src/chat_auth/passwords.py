"""Argon2id password hashing, off the event loop, with a fixed number of hashing threads.

A hash takes tens of milliseconds of CPU and ``memory_kib`` of memory; running it in a bounded
pool keeps the event loop answering and caps memory however many logins arrive at once. The
requests doing password work at once are bounded too: each takes an ``admission`` before
anything else it does, and beyond ``queue_limit`` it is refused at once
(``PasswordsBusyError``), so a flood is answered quickly, before it costs a Redis or Postgres
round trip, instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

# What one hash is assumed to take until one has been timed (19 MiB, t=2 on a server core).
_FIRST_GUESS_S = 0.05


class PasswordsBusyError(Exception):
    """Every place for password work is taken; the client should come back shortly."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy checking passwords; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class PasswordVault:
    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        workers: int,
        queue_limit: int,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._workers = workers
        self._queue_limit = queue_limit
        self._admitted = 0
        # Seconds one hash takes on a thread, a moving average: how soon a full queue drains.
        self._hash_s = _FIRST_GUESS_S
        self._dummy_hash: str | None = None
        # Receives "hash" or "verify" and the seconds it took, queueing for a thread included.
        self._observe = observe

    async def start(self) -> None:
        # Unknown usernames are checked against this hash, so they cost what a real check costs
        # and a stopwatch cannot tell which usernames exist.
        self._dummy_hash = await self.hash(secrets.token_urlsafe(24))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def hash(self, password: str) -> str:
        return await self._run("hash", functools.partial(self._hasher.hash, password))

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; ``None`` (no such user) checks the dummy and fails."""
        if stored_hash is None:
            if self._dummy_hash is None:
                raise RuntimeError("PasswordVault.start() was not awaited")
            await self._run("verify", functools.partial(self._check, self._dummy_hash, password))
            return False
        return await self._run("verify", functools.partial(self._check, stored_hash, password))

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """One of ``queue_limit`` places for a request that will hash or check passwords.

        Raises ``PasswordsBusyError`` when all are taken, with the seconds the admitted work
        takes to drain: the limit times the average hash, shared by the threads.
        """
        if self._admitted >= self._queue_limit:
            drain_s = self._queue_limit * self._hash_s / self._workers
            raise PasswordsBusyError(max(1, math.ceil(drain_s)))
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _run(self, operation: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._timed, work)
        finally:
            if self._observe is not None:
                self._observe(operation, time.perf_counter() - started)

    def _timed(self, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            # A float assignment is atomic under the GIL; a lost update only blurs the average.
            self._hash_s = 0.8 * self._hash_s + 0.2 * (time.perf_counter() - started)
