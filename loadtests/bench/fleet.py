"""The client processes of one run, as one: commands go to every process, results are merged.

Seats are dealt round-robin, so each process holds a share of every room and of the publishers.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np

from bench import crowd
from bench.crowd import SeatSpec


class Fleet:
    def __init__(self, dialect: str, processes: int) -> None:
        self._dialect = dialect
        self._count = processes
        self._pipes: list[Connection] = []
        self._processes: list[BaseProcess] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes if process.pid is not None]

    async def __aenter__(self) -> Fleet:
        spawn = multiprocessing.get_context("spawn")
        for _ in range(self._count):
            mine, theirs = spawn.Pipe()
            process = spawn.Process(target=crowd.run, args=(theirs,), daemon=True)
            process.start()
            self._pipes.append(mine)
            self._processes.append(process)
        await self._all("start", {"dialect": self._dialect})
        return self

    async def __aexit__(self, *_: object) -> None:
        for pipe in self._pipes:
            pipe.send(("quit", {}))
        for process in self._processes:
            await asyncio.to_thread(process.join, 10)
            if process.is_alive():
                process.kill()

    async def _call(self, command: str, arguments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for pipe, argument in zip(self._pipes, arguments, strict=True):
            pipe.send((command, argument))
        return list(await asyncio.gather(*(asyncio.to_thread(pipe.recv) for pipe in self._pipes)))

    async def _all(self, command: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._call(command, [arguments] * self._count)

    async def open(self, specs: list[SeatSpec]) -> dict[str, Any]:
        shares = [specs[i :: self._count] for i in range(self._count)]
        results = await self._call("open", [{"specs": share} for share in shares])
        failures: dict[str, int] = {}
        rooms: dict[str, int] = {}
        for result in results:
            for reason, count in result["failures"].items():
                failures[reason] = failures.get(reason, 0) + count
            for room, count in result["rooms"].items():
                rooms[room] = rooms.get(room, 0) + count
        return {
            "opened": sum(result["opened"] for result in results),
            "retries": sum(result["retries"] for result in results),
            "rooms": rooms,
            "failures": failures,
            "seconds": max(result["seconds"] for result in results),
        }

    async def reset(self, base: int, slots: int) -> None:
        await self._all("reset", {"base": base, "slots": slots})

    async def publish(self, **plan: Any) -> None:
        await self._all("publish", plan)

    async def progress(self) -> tuple[int, int, int]:
        """Deliveries so far, messages acknowledged, and messages still without an answer."""
        results = await self._all("progress", {})
        deliveries, acked, unanswered = (
            sum(r[key] for r in results) for key in ("deliveries", "acked", "unanswered")
        )
        return deliveries, acked, unanswered

    async def collect(self) -> dict[str, Any]:
        results = await self._all("collect", {})

        def joined(key: str) -> np.ndarray[Any, np.dtype[np.float32]]:
            return np.concatenate([np.frombuffer(r[key], dtype=np.float32) for r in results])

        merged: dict[str, Any] = {
            "received": sum(
                np.frombuffer(r["received"], dtype=np.uint32).astype(np.int64) for r in results
            ),
            "acked": np.maximum.reduce(
                [np.frombuffer(r["acked"], dtype=np.uint8) for r in results]
            ),
            "latencies_ms": joined("latencies_ms"),
            "ack_ms": joined("ack_ms"),
            "reconnect_ms": joined("reconnect_ms"),
        }
        for key in ("duplicates", "recovered", "sent", "skipped", "open", "retries"):
            merged[key] = sum(r[key] for r in results)
        for key in ("refusals", "disconnects"):
            counts: dict[str, int] = {}
            for result in results:
                for reason, count in result[key].items():
                    counts[reason] = counts.get(reason, 0) + count
            merged[key] = counts
        return merged

    async def close(self) -> None:
        await self._all("close", {})
