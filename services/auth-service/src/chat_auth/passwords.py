"""Argon2id password hashing, off the event loop, with a fixed number of hashing threads.

A hash takes tens of milliseconds of CPU and ``memory_kib`` of memory; running it in a bounded
pool keeps the event loop answering and caps memory however many logins arrive at once.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


class PasswordVault:
    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        workers: int,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._dummy_hash: str | None = None
        # Receives the seconds each hash or check took, queueing for a thread included.
        self._observe = observe

    async def start(self) -> None:
        # Unknown usernames are checked against this hash, so they cost what a real check costs
        # and a stopwatch cannot tell which usernames exist.
        self._dummy_hash = await self.hash(secrets.token_urlsafe(24))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(self._hasher.hash, password))

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; ``None`` (no such user) checks the dummy and fails."""
        if stored_hash is None:
            if self._dummy_hash is None:
                raise RuntimeError("PasswordVault.start() was not awaited")
            await self._run(functools.partial(self._check, self._dummy_hash, password))
            return False
        return await self._run(functools.partial(self._check, stored_hash, password))

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

    async def _run(self, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started)
