"""A Redis Sentinel group of the test's own: a primary, a replica and three Sentinels, each a
redis-server process from Debian's package on a free port, as production's smallest HA setup.

The Sentinels agree on a failure after ``down_after_ms`` and promote the replica; a primary
that comes back is made a replica of the new one. ``url`` is the ``redis+sentinel://`` URL the
services take (``chat_common.redis_client``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, redis_command
from chat_testing.resp import ask

MASTER = "chat"


class SentinelGroup:
    def __init__(self, folder: Path, *, down_after_ms: int = 1000) -> None:
        self.folder = folder
        self.ports = [free_port(), free_port()]  # the first primary, its replica
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.servers = [self._server(0), self._server(1)]
        self.sentinels = [self._sentinel(port, down_after_ms) for port in self.sentinel_ports]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}/0"

    def _server(self, index: int) -> ServiceProcess:
        port = self.ports[index]
        folder = self.folder / f"redis-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        command = redis_command(port, folder)
        if index == 1:
            command += ["--replicaof", "127.0.0.1", str(self.ports[0])]

        async def pong() -> bool:
            return (await ask(port, "PING")) == [b"+PONG\r\n"]

        return ServiceProcess(f"redis-{port}", command, {}, self.folder, ready=pong)

    def _sentinel(self, port: int, down_after_ms: int) -> ServiceProcess:
        config = self.folder / f"sentinel-{port}.conf"  # Sentinel rewrites it as it learns
        config.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    f"dir {self.folder}",
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.ports[0]} 2",
                    f"sentinel down-after-milliseconds {MASTER} {down_after_ms}",
                    f"sentinel failover-timeout {MASTER} 10000",
                    f"sentinel parallel-syncs {MASTER} 1",
                    "",
                ]
            )
        )

        async def knows_the_primary() -> bool:
            reply = await ask(port, "SENTINEL", "get-master-addr-by-name", MASTER)
            return reply[0] == b"*2\r\n"

        return ServiceProcess(
            f"sentinel-{port}",
            ["redis-server", str(config), "--sentinel"],
            {},
            self.folder,
            ready=knows_the_primary,
        )

    async def primary_port(self, sentinel: int = 0) -> int:
        """The primary's port as Sentinel number ``sentinel`` names it now."""
        port = self.sentinel_ports[sentinel]
        reply = await ask(port, "SENTINEL", "get-master-addr-by-name", MASTER)
        return int(reply[4].strip())

    def server_on(self, port: int) -> ServiceProcess:
        return self.servers[self.ports.index(port)]

    async def start(self, limit_s: float = 30.0) -> None:
        """Every process started, the replica in sync with the primary, and every Sentinel
        aware of the replica (else it has no one to promote)."""
        for server in self.servers:
            await server.start()
        for sentinel in self.sentinels:
            await sentinel.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s

        async def whole() -> bool:
            role = await ask(self.ports[1], "ROLE")
            if b"connected\r\n" not in role:
                return False
            for port in self.sentinel_ports:
                replicas = await ask(port, "SENTINEL", "replicas", MASTER)
                if replicas[0] == b"*0\r\n":
                    return False
            return True

        while not await whole():
            if loop.time() > deadline:
                raise TimeoutError("the Sentinel group did not come together")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for process in [*self.sentinels, *self.servers]:
            await process.stop()

    async def fail_over(self, limit_s: float = 30.0) -> int:
        """SIGKILL the primary and wait until every Sentinel names the replica they promoted;
        then start the old primary again, empty (the Sentinels make it a replica of the new
        one some 10 to 20 s later). Returns the new primary's port."""
        old = await self.primary_port()
        await self.server_on(old).kill()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s

        async def until(done: Callable[[], Awaitable[bool]], what: str) -> None:
            while not await done():
                if loop.time() > deadline:
                    raise TimeoutError(what)
                await asyncio.sleep(0.2)

        async def promoted() -> bool:
            named = {await self.primary_port(n) for n in range(len(self.sentinels))}
            return old not in named and len(named) == 1

        await until(promoted, "the Sentinels did not agree on a new primary")
        new = await self.primary_port()
        await self.server_on(old).start()
        return new
