"""A Redis Cluster of the test's own: three primaries, no replicas, each a redis-server process
from Debian's package on a free port, joined with ``redis-cli --cluster create``.

A node restarted with ``restart`` comes back on its port with its ``nodes.conf`` (kept in its
folder), so it is the same node owning the same slots, empty: the tests' Redis keeps nothing on
disk. ``url`` is the ``redis+cluster://`` URL the services take (``chat_common.redis_client``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, redis_command
from chat_testing.resp import ask

PRIMARIES = 3


class RedisClusterGroup:
    def __init__(self, folder: Path, *, primaries: int = PRIMARIES) -> None:
        self.folder = folder
        self.ports = [free_port() for _ in range(primaries)]
        self.bus_ports = {port: free_port() for port in self.ports}
        self.servers = [self._server(port) for port in self.ports]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def _server(self, port: int) -> ServiceProcess:
        folder = self.folder / f"redis-cluster-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            *redis_command(port, folder),
            *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            # The bus port on a free port of its own: the default (port + 10000) may be taken,
            # or past 65535 for the high ports free_port hands out.
            *("--cluster-port", str(self.bus_ports[port])),
            # A node that is back within this long is not failed over (there is no replica to
            # promote anyway); meanwhile its slots answer CLUSTERDOWN or a refused connection.
            *("--cluster-node-timeout", "5000"),
        ]

        async def pong() -> bool:
            return (await ask(port, "PING")) == [b"+PONG\r\n"]

        return ServiceProcess(f"redis-cluster-{port}", command, {}, self.folder, ready=pong)

    def server_on(self, port: int) -> ServiceProcess:
        return self.servers[self.ports.index(port)]

    async def start(self, limit_s: float = 30.0) -> None:
        """Every node started, the slots shared out among them, and every node saying
        ``cluster_state:ok``."""
        for server in self.servers:
            await server.start()
        create = await asyncio.create_subprocess_exec(
            "redis-cli",
            "--cluster",
            "create",
            *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await create.communicate()
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {output.decode()}")
        await self.wait_ok(limit_s)

    async def wait_ok(self, limit_s: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not all([await self._ok(port) for port in self.ports]):
            if loop.time() > deadline:
                raise TimeoutError("the Redis Cluster did not reach cluster_state:ok")
            await asyncio.sleep(0.2)

    async def _ok(self, port: int) -> bool:
        try:
            reply = await ask(port, "CLUSTER", "INFO")
        except OSError:
            return False
        return any(b"cluster_state:ok" in line for line in reply)

    async def restart(self, port: int) -> None:
        """SIGKILL the node on ``port`` and start it again: same node id, same slots (its
        nodes.conf), no data. Returns once the whole cluster says ``cluster_state:ok``."""
        server = self.server_on(port)
        await server.kill()
        await server.start()
        await self.wait_ok()

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()
