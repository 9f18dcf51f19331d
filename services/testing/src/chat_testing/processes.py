"""Services run as their own processes, as in production, so a test can SIGKILL or restart
them; readiness is polled, never assumed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx


class ServiceProcess:
    """A service run as its own process, as in production, so tests can SIGKILL it."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log_dir: Path,
        *,
        ready_url: str | None = None,
        ready: Callable[[], Awaitable[bool]] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.cwd = cwd
        self.argv = argv
        self.env = env
        self.ready_url = ready_url
        self._ready = ready
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, limit_s: float = 40.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, waited on via polling
            self.argv,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
        )
        log.close()
        await self.wait_ready(limit_s)

    async def wait_ready(self, limit_s: float = 40.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}")
                if await self._answers(client):
                    return
                if loop.time() > deadline:
                    raise RuntimeError(f"{self.name} not ready in {limit_s}s; see {self.log_path}")
                await asyncio.sleep(0.2)

    async def _answers(self, client: httpx.AsyncClient) -> bool:
        if self._ready is not None:
            with contextlib.suppress(Exception):
                return await self._ready()
            return False
        assert self.ready_url is not None
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get(self.ready_url)).status_code == 200
        return False

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    async def wait_exit(self, limit_s: float = 20.0) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while self.process is not None and self.process.poll() is None:
            if loop.time() > deadline:
                return None
            await asyncio.sleep(0.05)
        return None if self.process is None else self.process.returncode

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await self.wait_exit()

    async def stop(self) -> None:
        self.signal(signal.SIGTERM)
        if await self.wait_exit(15.0) is None:
            await self.kill()


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def redis_server(port: int, log_dir: Path) -> ServiceProcess:
    """A Redis of the test's own, so restarting it disturbs nothing else."""

    async def pong() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PING\r\n")
        answer = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return answer == b"+PONG\r\n"

    return ServiceProcess(f"redis-{port}", redis_command(port, log_dir), {}, log_dir, ready=pong)


def redis_command(port: int, folder: Path) -> list[str]:
    """redis-server on 127.0.0.1:``port`` without persistence: a test's Redis starts empty."""
    return [
        *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
        *("--save", "", "--appendonly", "no", "--dir", str(folder)),
    ]
